#include "StatsView.h"

#include <QDateTime>
#include <QLocale>

namespace prawmp::cli {

namespace {

QString duration(double seconds)
{
    qint64 s = qint64(seconds);
    const qint64 d = s / 86400;
    s %= 86400;
    const qint64 h = s / 3600;
    s %= 3600;
    const qint64 m = s / 60;
    s %= 60;
    if (d > 0)
        return QStringLiteral("%1d%2h").arg(d).arg(h, 2, 10, QLatin1Char('0'));
    if (h > 0)
        return QStringLiteral("%1h%2m").arg(h).arg(m, 2, 10, QLatin1Char('0'));
    if (m > 0)
        return QStringLiteral("%1m%2s").arg(m).arg(s, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1s").arg(s);
}

QString bytes(qint64 n)
{
    return QLocale::c().formattedDataSize(n, 1);
}

QString rate(double perSecond)
{
    return QString::number(perSecond, 'f', perSecond < 10 ? 1 : 0) + QStringLiteral("/s");
}

QString left(const QString &text, int width)
{
    return text.leftJustified(width);
}

QString right(const QString &text, int width)
{
    return text.rightJustified(width);
}

QString cut(const QString &text, int width)
{
    return text.size() <= width ? text : text.left(width - 1) + u'~';
}

} // namespace

QString renderStats(const StatsSnapshot &s, const QList<RequestRecord> &recent, bool showRecent)
{
    QString out;
    const PipelineCounters &t = s.totals;
    out += QStringLiteral("praw-multiprocess %1   up %2   %3 connections   rate mode %4   redis %5\n")
               .arg(s.version.isEmpty() ? QStringLiteral("?") : s.version, duration(s.uptimeSeconds))
               .arg(s.connections)
               .arg(s.rateMode.isEmpty() ? QStringLiteral("?") : s.rateMode,
                    s.redisState.isEmpty() ? QStringLiteral("off") : s.redisState);
    out += QStringLiteral("requests  %1 (%2)   hits %3 (%4%)   coalesced %5   upstream %6 (%7)\n")
               .arg(t.requests)
               .arg(rate(s.requestsPerSecond))
               .arg(t.hits)
               .arg(QString::number(s.hitRatio() * 100.0, 'f', 1))
               .arg(t.coalesced)
               .arg(t.upstreamRequests)
               .arg(rate(s.upstreamPerSecond));
    out += QStringLiteral("errors    %1   429s %2   refused (max wait) %3\n")
               .arg(t.errors)
               .arg(t.upstream429)
               .arg(t.queueRejections);
    out += QStringLiteral("cache     %1 entries   %2 of %3   ttl %4s   evictions %5   shared across tokens %6\n")
               .arg(s.cacheEntries)
               .arg(bytes(qint64(s.cacheBytes)), bytes(s.cacheMaxBytes))
               .arg(s.cacheTtlSeconds)
               .arg(s.cacheEvictions)
               .arg(t.servedAcrossTokens);

    // Tables are padded by hand: chained arg() would substitute a '%'
    // in a domain, user agent or URL.
    out += u'\n';
    out += left(QStringLiteral("DOMAIN"), 36) + right(QStringLiteral("BUDGET"), 8) + right(QStringLiteral("REMAINING"), 11)
           + right(QStringLiteral("RESET"), 8) + right(QStringLiteral("QUEUED"), 8) + right(QStringLiteral("IN FLIGHT"), 11) + u'\n';
    if (s.domains.isEmpty())
        out += QStringLiteral("(no upstream requests yet)\n");
    for (const DomainState &d : s.domains) {
        const QString unknown = QStringLiteral("-");
        out += left(cut(d.displayName(), 35), 36)
               + right(d.budgetKnown ? QString::number(d.budget) : unknown, 8)
               + right(d.budgetKnown ? QString::number(qint64(d.remaining)) : unknown, 11)
               + right(d.budgetKnown ? QString::number(qint64(d.secondsToReset)) + u's' : unknown, 8)
               + right(QString::number(d.queued), 8) + right(QString::number(d.inFlight), 11)
               + (d.paused ? QStringLiteral("  paused (429)") : QString()) + u'\n';
    }

    out += u'\n';
    out += left(QStringLiteral("CLIENT"), 44) + right(QStringLiteral("REQUESTS"), 10) + right(QStringLiteral("HITS"), 8)
           + right(QStringLiteral("WAITING"), 9) + u'\n';
    if (s.clients.isEmpty())
        out += QStringLiteral("(no clients)\n");
    for (const ClientStats &c : s.clients) {
        const QString who = c.userAgent.isEmpty() ? c.peer : c.peer + u' ' + c.userAgent;
        out += left(cut(who, 43), 44) + right(QString::number(c.requests), 10) + right(QString::number(c.hits), 8)
               + right(QString::number(c.waiting), 9) + u'\n';
    }

    if (showRecent) {
        out += QStringLiteral("\nRECENT REQUESTS\n");
        if (recent.isEmpty())
            out += QStringLiteral("(none yet)\n");
        for (const RequestRecord &r : recent) {
            const QString time = QDateTime::fromMSecsSinceEpoch(r.finishedAtMs).toString(QStringLiteral("HH:mm:ss"));
            const QString status = r.error.isEmpty() ? QString::number(r.status) : r.error;
            out += left(time, 9) + left(QString::fromLatin1(r.method), 7) + left(status, 6)
                   + left(QString::fromLatin1(cacheStatusName(r.cacheStatus)), 10)
                   + right(QString::number(r.totalMs) + QStringLiteral("ms"), 8) + u' ' + r.url + u'\n';
        }
    }
    return out;
}

} // namespace prawmp::cli
