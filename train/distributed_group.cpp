#include "train/distributed_group.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <c10/util/Logging.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace ternary {
namespace {

// The reason in c10d's / Gloo's message: its first line, without the "[file.cc:123] " prefix or
// Gloo's generic advice ("This is typically caused by ...").
std::string reason_of(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string text = c10_error ? c10_error->what_without_backtrace() : e.what();
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.front() == '[') text = text.substr(std::min(text.size(), text.find("] ") + 2));
  if (const size_t advice = text.find(" This is typically"); advice != std::string::npos) text.resize(advice);
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return text;
}

// c10d logs each failed connection attempt with a backtrace; the one-line error we throw says
// it all, so its log is quiet while we rendezvous.
class QuietC10Log {
 public:
  QuietC10Log() : saved_(FLAGS_caffe2_log_level) { FLAGS_caffe2_log_level = 3; }  // FATAL only
  ~QuietC10Log() { FLAGS_caffe2_log_level = saved_; }
  QuietC10Log(const QuietC10Log&) = delete;
  QuietC10Log& operator=(const QuietC10Log&) = delete;

 private:
  int saved_;
};

// Gloo's network device: GLOO_SOCKET_IFNAME when the user names one, loopback for a one-machine
// run (nothing leaves the machine), else the interface this host's name resolves to.
std::shared_ptr<gloo::transport::Device> gloo_device(const LaunchEnvironment& environment) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (environment.loopback()) return c10d::ProcessGroupGloo::createDeviceForInterface("lo");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

struct DistributedGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  std::chrono::seconds timeout;

  // Starts a collective (start() returns its c10d::Work); the Pending waits for it.
  template <typename Start>
  Pending launch(int rank, const std::string& what, Start&& start) {
    c10::intrusive_ptr<c10d::Work> work;
    run(rank, what, [&] { work = start(); });
    return Pending([this, rank, work, what] { run(rank, what, [&] { work->wait(); }); });
  }

  // Runs a collective, turning c10d's errors into one line a user can act on.
  template <typename F>
  void run(int rank, const std::string& what, F&& collective) const {
    try {
      collective();
    } catch (const std::exception& e) {
      throw DistributedError("rank " + std::to_string(rank) + " lost the other ranks during " + what + " (" +
                             reason_of(e) + "); another rank exited or was killed (see its output) or took longer "
                             "than distributed.timeout_seconds=" + std::to_string(timeout.count()));
    }
  }
};

DistributedGroup::DistributedGroup(std::unique_ptr<Impl> impl, int rank, int world_size)
    : impl_(std::move(impl)), rank_(rank), world_size_(world_size) {}

DistributedGroup::~DistributedGroup() = default;

std::unique_ptr<DistributedGroup> DistributedGroup::connect(const LaunchEnvironment& environment,
                                                            std::chrono::seconds timeout, const std::string& job) {
  const std::string where = "MASTER_ADDR=" + environment.master_addr +
                            " MASTER_PORT=" + std::to_string(environment.master_port);
  auto impl = std::make_unique<Impl>();
  impl->timeout = timeout;
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(environment.master_port);
  options.isServer = environment.rank == 0;
  options.numWorkers = environment.world_size;
  options.waitWorkers = false;  // the world-size check below waits, with a message that says why
  options.timeout = timeout;
  const QuietC10Log quiet;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(environment.master_addr, options);
  } catch (const std::exception& e) {
    if (environment.rank == 0)
      throw DistributedError("rank 0 cannot host the rendezvous at " + where + " (" + reason_of(e) +
                             "): the port is in use (another run?) or MASTER_ADDR is not this machine; pick another "
                             "MASTER_PORT");
    throw DistributedError("rank " + std::to_string(environment.rank) + " could not reach the rendezvous at " + where +
                           " within " + std::to_string(timeout.count()) + " s (" + reason_of(e) +
                           "): is rank 0 running, and is MASTER_ADDR its address?");
  }
  // Every rank must agree on WORLD_SIZE and the job: rank 0 publishes its own, the others compare,
  // and rank 0 waits for all of them to check in.
  try {
    if (environment.rank == 0) {
      impl->store->set("ternary/world_size", c10::str(environment.world_size));
      impl->store->set("ternary/job", job);
    } else {
      auto get = [&](const std::string& key) {
        const std::vector<uint8_t> value = impl->store->get(key);
        return std::string(value.begin(), value.end());
      };
      const std::string rank0_world = get("ternary/world_size");
      if (rank0_world != std::to_string(environment.world_size))
        throw DistributedError("WORLD_SIZE=" + std::to_string(environment.world_size) + " on rank " +
                               std::to_string(environment.rank) + " but WORLD_SIZE=" + rank0_world +
                               " on rank 0; give every rank the same WORLD_SIZE");
      if (get("ternary/job") != job)
        throw DistributedError("rank " + std::to_string(environment.rank) + " runs another config than rank 0 at " +
                               where + " (or another job uses that port); start every rank with the same config "
                               "and --set overrides (paths and threads may differ)");
    }
    impl->store->add("ternary/joined", 1);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (impl->store->add("ternary/joined", 0) < environment.world_size) {
      if (std::chrono::steady_clock::now() > deadline)
        throw DistributedError("rank " + std::to_string(environment.rank) + " waited " +
                               std::to_string(timeout.count()) + " s for WORLD_SIZE=" +
                               std::to_string(environment.world_size) + " ranks to join at " + where + ", but only " +
                               std::to_string(impl->store->add("ternary/joined", 0)) +
                               " did; start every rank, and check WORLD_SIZE and RANK on each");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(environment.rank) + ": the rendezvous at " + where + " failed (" +
                           reason_of(e) + "); check WORLD_SIZE and RANK on every rank");
  }
  try {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
    gloo_options->devices.push_back(gloo_device(environment));
    gloo_options->threads = 1;  // one transport thread per rank: the cores are for compute
    impl->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, environment.rank, environment.world_size,
                                                              gloo_options);
  } catch (const std::exception& e) {
    throw DistributedError("rank " + std::to_string(environment.rank) + " could not connect to the other ranks (" +
                           reason_of(e) + "); set GLOO_SOCKET_IFNAME to the network interface the ranks share");
  }
  return std::unique_ptr<DistributedGroup>(
      new DistributedGroup(std::move(impl), environment.rank, environment.world_size));
}

DistributedGroup::Pending DistributedGroup::all_reduce_sum_async(at::Tensor& tensor, const std::string& what) {
  return impl_->launch(rank_, what, [&] {
    std::vector<at::Tensor> tensors{tensor};
    return impl_->group->allreduce(tensors);
  });
}

DistributedGroup::Pending DistributedGroup::reduce_scatter_sum_async(at::Tensor& output, at::Tensor& input,
                                                                    const std::string& what) {
  return impl_->launch(rank_, what, [&] { return impl_->group->_reduce_scatter_base(output, input); });
}

DistributedGroup::Pending DistributedGroup::all_gather_async(at::Tensor& output, at::Tensor& input,
                                                             const std::string& what) {
  return impl_->launch(rank_, what, [&] { return impl_->group->_allgather_base(output, input); });
}

void DistributedGroup::all_reduce_sum(at::Tensor& tensor, const std::string& what) {
  all_reduce_sum_async(tensor, what).wait();
}

void DistributedGroup::all_reduce_max(at::Tensor& tensor, const std::string& what) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MAX;
  impl_->run(rank_, what, [&] { impl_->group->allreduce(tensors, options)->wait(); });
}

void DistributedGroup::broadcast(std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  c10d::BroadcastOptions options;
  options.rootRank = root;
  for (auto& tensor : tensors) {
    std::vector<at::Tensor> one{tensor};
    impl_->run(rank_, what, [&] { impl_->group->broadcast(one, options)->wait(); });
  }
}

void DistributedGroup::barrier(const std::string& what) {
  impl_->run(rank_, what, [&] { impl_->group->barrier()->wait(); });
}

}  // namespace ternary
