// V8 flags the project runs the service with (`./dev start`, the benchmark; the container image
// sets the same in NODE_OPTIONS). Capping the young generation keeps the producer's peak RSS
// under 256 MB on multi-million-row responses; Node's default sizing on a large machine lets it
// grow to ~400 MB for a few percent more throughput (see the README, Performance).
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=8'];

/**
 * Environment the service runs with beside those flags (the image sets the same): glibc gives
 * every thread that allocates its own malloc arena, and the producer's parse worker is such a
 * thread. Two arenas keep a producer on a 5M-row response ~40 MB smaller, at no measurable cost.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
