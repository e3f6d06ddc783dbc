#include "common/heap_policy.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ternary {

void return_large_frees_to_the_os() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // setting it also stops glibc from raising it
#endif
}

}  // namespace ternary
