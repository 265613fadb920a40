#pragma once
#include "prawmp/PipelineStats.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace prawmp {

// One connected client of a daemon (peer address + User-Agent).
struct PRAWMP_EXPORT ClientStats
{
    QString id;
    QString peer;
    QString userAgent;
    quint64 requests = 0;
    quint64 hits = 0;
    int waiting = 0;
    quint64 bytes = 0;
    qint64 connectedSinceMs = 0; // epoch ms
    int connections = 0;
};

// The daemon's state as served by /_mp/stats and in the SSE "stats" event.
// The JSON shape is the contract between the daemon, the client and the GUI.
struct PRAWMP_EXPORT StatsSnapshot
{
    QString version;
    qint64 timestampMs = 0;
    double uptimeSeconds = 0;
    PipelineCounters totals;
    double requestsPerSecond = 0;
    double hitsPerSecond = 0;
    double coalescedPerSecond = 0;
    double upstreamPerSecond = 0;
    quint64 cacheEntries = 0;
    quint64 cacheBytes = 0;
    qint64 cacheMaxBytes = 0;
    double cacheTtlSeconds = 0;
    quint64 cacheEvictions = 0;
    QList<DomainState> domains;
    QList<ClientStats> clients;
    int connections = 0;
    QString rateMode;
    QString redisState; // "off", "ok", "degraded"
    // "engine": the daemon's serving threads and the hits they answered
    // (already part of totals.requests and totals.hits).
    int servingThreads = 0;
    quint64 servingThreadHits = 0;
    QString ioBackend; // the serving threads' byte I/O: "epoll" or "poll"
    // Request events of /_mp/events left out (over the sampling rate, or
    // held back from a slow subscriber); the counts above include them.
    quint64 requestEventsNotSent = 0;

    double hitRatio() const;
    QJsonObject toJson() const;
    static StatsSnapshot fromJson(const QJsonObject &json);
};

PRAWMP_EXPORT QJsonObject requestRecordToJson(const RequestRecord &record);
PRAWMP_EXPORT RequestRecord requestRecordFromJson(const QJsonObject &json);

} // namespace prawmp
