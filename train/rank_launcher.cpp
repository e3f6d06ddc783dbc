#include "train/rank_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace ternary {
namespace {

volatile std::sig_atomic_t g_signals = 0;  // Ctrl-C / SIGTERM received so far

void count_signal(int) { g_signals = g_signals + 1; }

[[noreturn]] void exec_rank(int rank, int nproc, int port, const std::vector<std::string>& arguments) {
  setpgid(0, 0);  // its own process group: a terminal's Ctrl-C reaches the launcher, which forwards it once
  const std::string r = std::to_string(rank), n = std::to_string(nproc), p = std::to_string(port);
  setenv("RANK", r.c_str(), 1);
  setenv("LOCAL_RANK", r.c_str(), 1);
  setenv("WORLD_SIZE", n.c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", n.c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", p.c_str(), 1);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  std::vector<char*> argv;
  static const std::string self = "/proc/self/exe";
  argv.push_back(const_cast<char*>(self.c_str()));
  for (const auto& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(self.c_str(), argv.data());
  std::perror("ternary-train: error: cannot start a rank (execv /proc/self/exe)");
  _exit(127);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("cannot open a socket to find a free port for --nproc");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) throw std::runtime_error("cannot bind a socket on 127.0.0.1 to find a free port for --nproc");
  return ntohs(address.sin_port);
}

int run_local_ranks(int nproc, const std::vector<std::string>& arguments, std::chrono::seconds grace) {
  const int port = free_loopback_port();
  g_signals = 0;
  struct sigaction action{}, old_int{}, old_term{};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);

  std::vector<pid_t> children;
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t child : children) kill(child, SIGKILL);
      throw std::runtime_error("cannot fork rank " + std::to_string(rank) + " of --nproc " + std::to_string(nproc));
    }
    if (pid == 0) exec_rank(rank, nproc, port, arguments);
    children.push_back(pid);
  }

  int first_failure = 0;
  bool stopped = false;
  int forwarded = 0;
  std::chrono::steady_clock::time_point kill_at = std::chrono::steady_clock::time_point::max();
  size_t running = children.size();
  while (running > 0) {
    if (g_signals > forwarded) {  // the first stops the ranks at a step boundary; a second kills them
      forwarded = g_signals;
      for (pid_t child : children)
        if (child > 0) kill(child, forwarded == 1 ? SIGINT : SIGKILL);
    }
    if (std::chrono::steady_clock::now() >= kill_at)
      for (pid_t& child : children)
        if (child > 0) kill(child, SIGKILL);
    int status = 0;
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    for (size_t rank = 0; rank < children.size(); ++rank) {
      if (children[rank] != done) continue;
      children[rank] = -1;
      --running;
      const int code = exit_code_of(status);
      if (code == 130) stopped = true;
      else if (code != 0 && first_failure == 0) {
        first_failure = code;
        kill_at = std::chrono::steady_clock::now() + grace;
        std::cerr << "ternary-train: rank " << rank << " exited with code " << code << "; waiting up to "
                  << grace.count() << " s for the other ranks to stop" << std::endl;
      }
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (first_failure != 0) return first_failure;
  return stopped ? 130 : 0;
}

}  // namespace ternary
