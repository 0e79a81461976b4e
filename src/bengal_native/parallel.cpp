#include "bengal_native/parallel.hpp"

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/info.h>

#include <new>

namespace bengal {

bool release_worker_threads() noexcept {
    oneapi::tbb::task_scheduler_handle handle{oneapi::tbb::attach{}};
    return oneapi::tbb::finalize(handle, std::nothrow);
}

int default_concurrency() noexcept { return oneapi::tbb::info::default_concurrency(); }

}  // namespace bengal
