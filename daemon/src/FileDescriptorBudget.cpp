#include "FileDescriptorBudget.h"

#include <QLoggingCategory>

#include <QString>

#include <algorithm>

#ifdef Q_OS_UNIX
#include <sys/resource.h>
#endif

namespace prawmp {

namespace {
Q_LOGGING_CATEGORY(lcFds, "prawmp.http.fds", QtInfoMsg)
}

long long FileDescriptorBudget::reserve(long long limit)
{
    return 64 + limit / 16;
}

int FileDescriptorBudget::rejectionCapacity()
{
#ifdef Q_OS_UNIX
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return 1024;
    return int(std::max(4LL, reserve((long long)limit.rlim_cur) / 4));
#else
    return 1024;
#endif
}

int FileDescriptorBudget::clientCapacity(int wanted)
{
#ifdef Q_OS_UNIX
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return wanted;
    // The smallest soft limit whose share for clients is `wanted`.
    const auto needed = rlim_t((double(wanted) + 64.0) * 16.0 / 15.0) + 2;
    if (limit.rlim_cur < needed && limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = std::min(needed, limit.rlim_max);
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    const long long soft = (long long)limit.rlim_cur;
    const long long fits = std::max(1LL, soft - reserve(soft));
    if (fits >= wanted)
        return wanted;
    static int warnedFor = 0;
    if (warnedFor != wanted) {
        warnedFor = wanted;
        qCWarning(lcFds).noquote() << QStringLiteral("--max-clients %1 lowered to %2: the open-file limit "
                                                     "(ulimit -n) is %3, and upstream connections need some")
                                          .arg(wanted).arg(fits).arg(soft);
    }
    return int(fits);
#else
    return wanted;
#endif
}

} // namespace prawmp
