// Process-level control of oneTBB's worker threads.
#pragma once

namespace bengal {

// Waits until every oneTBB worker thread of this process has exited. Call it before fork():
// a child process inherits only the forking thread, and a scheduler whose workers vanished can
// deadlock the child (shared/NOTES.md). oneTBB starts new workers the next time it is used.
// Returns false when threads could not be stopped (work still running on another thread).
bool release_worker_threads() noexcept;

// Number of threads oneTBB uses by default in this process (respects the CPU affinity mask).
int default_concurrency() noexcept;

}  // namespace bengal
