#pragma once
// Shared set-up of the libFuzzer targets: one QCoreApplication for the
// whole run (sockets, timers and deferred deletes need it), quiet logs.
#include <QCoreApplication>
#include <QtGlobal>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace prawmp::fuzz {

inline void initApplication()
{
    static int argc = 1;
    static char name[] = "prawmp-fuzz";
    static char *argv[] = {name, nullptr};
    // The code under test logs refusals at debug level; a fuzzer runs
    // millions of them.
    qputenv("QT_LOGGING_RULES", "*.debug=false;*.info=false;*.warning=false");
    static QCoreApplication *app = new QCoreApplication(argc, argv);
    (void)app;
}

// A property the target checks failed: crash so that libFuzzer keeps the input.
[[noreturn]] inline void fail(const char *what)
{
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
}

#define PRAWMP_FUZZ_CHECK(condition)                                   \
    do {                                                               \
        if (!(condition))                                              \
            ::prawmp::fuzz::fail(#condition " (" __FILE__ ")");        \
    } while (false)

// Cuts `size` bytes into up to `maxPieces` pieces, decided by `seed`, so
// that incremental decoders see their input split at arbitrary places.
template <typename F>
void forEachPiece(const uint8_t *data, size_t size, uint8_t seed, int maxPieces, F &&f)
{
    const int pieces = 1 + seed % maxPieces;
    size_t start = 0;
    for (int i = 1; i <= pieces; ++i) {
        size_t end = i == pieces ? size : size * size_t(i) / size_t(pieces);
        // Shift inner cuts a little by the seed's high bits.
        if (i < pieces && end > start + (seed >> 4))
            end -= seed >> 4;
        if (end > start || i == pieces)
            f(data + start, end - start);
        start = end;
    }
}

} // namespace prawmp::fuzz
