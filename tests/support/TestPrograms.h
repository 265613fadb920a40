#pragma once
#include <QString>

// Paths of the programs the tests start, from tests/CMakeLists.txt
// (PRAWMP_BIN_FAKE_REDDIT, PRAWMP_BIN_*). Empty when the program is not built,
// so a test can QSKIP instead of failing to compile.
namespace prawmp::test {

inline QString fakeRedditProgram()
{
#if defined(PRAWMP_BIN_FAKE_REDDIT)
    return QStringLiteral(PRAWMP_BIN_FAKE_REDDIT);
#elif defined(PRAWMP_FAKE_REDDIT)
    return QStringLiteral(PRAWMP_FAKE_REDDIT);
#else
    return {};
#endif
}

inline QString daemonProgram()
{
#ifdef PRAWMP_BIN_PRAW_MULTIPROCESS
    return QStringLiteral(PRAWMP_BIN_PRAW_MULTIPROCESS);
#else
    return {};
#endif
}

inline QString clientProgram()
{
#ifdef PRAWMP_BIN_PRAW_MULTIPROCESS_CLIENT
    return QStringLiteral(PRAWMP_BIN_PRAW_MULTIPROCESS_CLIENT);
#else
    return {};
#endif
}

inline QString guiProgram()
{
#ifdef PRAWMP_BIN_PRAW_MULTIPROCESS_GUI
    return QStringLiteral(PRAWMP_BIN_PRAW_MULTIPROCESS_GUI);
#else
    return {};
#endif
}

inline QString sourceDir()
{
    return QStringLiteral(PRAWMP_SOURCE_DIR);
}

} // namespace prawmp::test
