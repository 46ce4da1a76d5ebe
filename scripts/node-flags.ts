// V8 flags the project runs the service with (`./dev start`, the benchmark; the container image
// sets the same in NODE_OPTIONS). Capping the young generation keeps the producer's peak RSS
// under 256 MB on multi-million-row responses; Node's default sizing on a large machine lets it
// grow to ~400 MB for a few percent more throughput (see docs/performance.md).
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=8'];

/**
 * The recordings stage streams bytes (16 downloads and uploads at once): its young generation
 * fills with short-lived Buffer objects, and a 2 MB semi-space keeps its peak RSS about 40 MB
 * lower than 8 MB does with 16 downloads of 20 MB in flight, at the same recordings/s
 * (docs/performance.md). The Helm chart sets it in that container's NODE_OPTIONS.
 */
export const RECORDINGS_NODE_FLAGS = ['--max-semi-space-size=2'];

/**
 * Environment the service runs with beside those flags (the image sets the same), for glibc's
 * malloc. It gives every thread that allocates its own arena, and the producer's parse worker is
 * such a thread: two arenas keep a producer on a 5M-row response ~40 MB smaller. And it raises its
 * mmap threshold each time a large block is freed, so that the producer's batch buffers (1-2 MB,
 * made and freed many times a second) end up carved from the heap, which only grows: a fixed
 * threshold of 128 KiB keeps them mmapped and given back, another 15-25 MB. Neither costs
 * measurable throughput (docs/performance.md).
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
