// Process-level control of oneTBB's worker threads.
#pragma once

#include <cstddef>

namespace bengal {

// Waits until every oneTBB worker thread of this process has exited. Call it before fork():
// a child process inherits only the forking thread, and a scheduler whose workers vanished can
// deadlock the child (shared/NOTES.md). oneTBB starts new workers the next time it is used.
// Returns false when threads could not be stopped (work still running on another thread).
bool release_worker_threads() noexcept;

// Number of threads oneTBB uses by default in this process (respects the CPU affinity mask).
int default_concurrency() noexcept;

// Calls fn(i) for every i in [0, n) on all cores (oneTBB). fn must not throw. In a
// ThreadSanitizer build it uses plain std::threads instead: TSan cannot see the synchronisation
// inside the system's uninstrumented oneTBB and would report its task hand-off as races, burying
// real reports; with std::thread start/join TSan still checks everything fn does.
template <class Fn>
void parallel_for_index(std::size_t n, Fn&& fn);

}  // namespace bengal

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#if defined(__SANITIZE_THREAD__)
#define BENGAL_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BENGAL_TSAN_BUILD 1
#endif
#endif

namespace bengal {

template <class Fn>
void parallel_for_index(std::size_t n, Fn&& fn) {
#if defined(BENGAL_TSAN_BUILD)
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    const unsigned count = std::max(2u, std::thread::hardware_concurrency());
    for (unsigned t = 0; t < count; ++t)
        threads.emplace_back([&] {
            for (std::size_t i; (i = next.fetch_add(1)) < n;) fn(i);
        });
    for (std::thread& t : threads) t.join();
#else
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, 1), [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t i = r.begin(); i != r.end(); ++i) fn(i);
    });
#endif
}

}  // namespace bengal
