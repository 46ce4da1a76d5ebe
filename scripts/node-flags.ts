// V8 flags the project runs the service with (`./dev start`, the benchmark; the container image
// sets the same in NODE_OPTIONS). Capping the young generation keeps the producer's peak RSS
// under 256 MB on multi-million-row responses; Node's default sizing on a large machine lets it
// grow to ~400 MB for a few percent more throughput (see the README, Performance).
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=8'];
