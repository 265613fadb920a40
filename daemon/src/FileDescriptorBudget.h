#pragma once

namespace prawmp {

// How many client connections fit in the daemon's open-file limit
// (RLIMIT_NOFILE, `ulimit -n`). Every client holds a descriptor; the
// upstream connections (up to 16 per origin), Redis, the listeners, the
// event loop and the short-lived connections that get the 503 of
// --max-clients need some more. Without that headroom a crowd of clients
// takes every descriptor: accept() fails with EMFILE, the clients over the
// limit hang instead of getting their 503, and upstream connections fail
// (502) for everyone.
class FileDescriptorBudget
{
public:
    // Raises the soft limit toward the hard one so that `wanted` clients fit,
    // then returns how many do: `wanted`, or fewer (logged once) when the
    // hard limit is lower.
    static int clientCapacity(int wanted);
    // How many connections over --max-clients may hold a descriptor while
    // they get their 503: a quarter of the reserve, so that a crowd leaves
    // the rest to the upstream, Redis and the event loop.
    static int rejectionCapacity();
    // Descriptors kept free for everything but the clients.
    static long long reserve(long long limit);
};

} // namespace prawmp
