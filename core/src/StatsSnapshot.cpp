#include "prawmp/StatsSnapshot.h"

#include <QJsonArray>

namespace prawmp {

namespace {

CacheStatus cacheStatusFromName(const QString &name)
{
    if (name == QLatin1String("HIT"))
        return CacheStatus::Hit;
    if (name == QLatin1String("BYPASS"))
        return CacheStatus::Bypass;
    if (name == QLatin1String("COALESCED"))
        return CacheStatus::Coalesced;
    return CacheStatus::Miss;
}

QJsonObject domainToJson(const DomainState &s)
{
    return {{"domain", s.domain},       {"budgetKnown", s.budgetKnown},
            {"budget", s.budget},       {"remaining", s.remaining},
            {"secondsToReset", s.secondsToReset}, {"queued", s.queued},
            {"inFlight", s.inFlight},   {"paused", s.paused},
            {"granted", double(s.granted)}, {"rejected429", double(s.rejected429)}};
}

DomainState domainFromJson(const QJsonObject &o)
{
    DomainState s;
    s.domain = o["domain"].toString();
    s.budgetKnown = o["budgetKnown"].toBool();
    s.budget = o["budget"].toInt();
    s.remaining = o["remaining"].toDouble();
    s.secondsToReset = o["secondsToReset"].toDouble();
    s.queued = o["queued"].toInt();
    s.inFlight = o["inFlight"].toInt();
    s.paused = o["paused"].toBool();
    s.granted = quint64(o["granted"].toDouble());
    s.rejected429 = quint64(o["rejected429"].toDouble());
    return s;
}

QJsonObject clientToJson(const ClientStats &c)
{
    return {{"id", c.id},           {"peer", c.peer},         {"userAgent", c.userAgent},
            {"requests", double(c.requests)}, {"hits", double(c.hits)}, {"waiting", c.waiting},
            {"bytes", double(c.bytes)}, {"connectedSinceMs", double(c.connectedSinceMs)},
            {"connections", c.connections}};
}

ClientStats clientFromJson(const QJsonObject &o)
{
    ClientStats c;
    c.id = o["id"].toString();
    c.peer = o["peer"].toString();
    c.userAgent = o["userAgent"].toString();
    c.requests = quint64(o["requests"].toDouble());
    c.hits = quint64(o["hits"].toDouble());
    c.waiting = o["waiting"].toInt();
    c.bytes = quint64(o["bytes"].toDouble());
    c.connectedSinceMs = qint64(o["connectedSinceMs"].toDouble());
    c.connections = o["connections"].toInt();
    return c;
}

} // namespace

double StatsSnapshot::hitRatio() const
{
    const quint64 lookups = totals.hits + totals.misses + totals.coalesced;
    return lookups ? double(totals.hits + totals.coalesced) / double(lookups) : 0.0;
}

QJsonObject StatsSnapshot::toJson() const
{
    QJsonArray domainArray, clientArray, bounds, counts;
    for (const auto &s : domains)
        domainArray.append(domainToJson(s));
    for (const auto &c : clients)
        clientArray.append(clientToJson(c));
    for (qint64 b : totals.waitBucketBoundsMs)
        bounds.append(double(b));
    for (quint64 c : totals.waitBucketCounts)
        counts.append(double(c));
    const QJsonObject totalsJson{
        {"requests", double(totals.requests)},     {"hits", double(totals.hits)},
        {"misses", double(totals.misses)},         {"bypasses", double(totals.bypasses)},
        {"coalesced", double(totals.coalesced)},   {"upstreamRequests", double(totals.upstreamRequests)},
        {"upstream429", double(totals.upstream429)}, {"errors", double(totals.errors)},
        {"queueRejections", double(totals.queueRejections)},
        {"waitBucketBoundsMs", bounds},            {"waitBucketCounts", counts},
        {"waitSumMs", totals.waitSumMs}};
    return {{"version", version},
            {"timestampMs", double(timestampMs)},
            {"uptimeSeconds", uptimeSeconds},
            {"totals", totalsJson},
            {"rates", QJsonObject{{"requestsPerSecond", requestsPerSecond},
                                  {"hitsPerSecond", hitsPerSecond},
                                  {"coalescedPerSecond", coalescedPerSecond},
                                  {"upstreamPerSecond", upstreamPerSecond}}},
            {"cache", QJsonObject{{"entries", double(cacheEntries)}, {"bytes", double(cacheBytes)},
                                  {"maxBytes", double(cacheMaxBytes)}, {"ttlSeconds", cacheTtlSeconds},
                                  {"evictions", double(cacheEvictions)}, {"hitRatio", hitRatio()}}},
            {"domains", domainArray},
            {"clients", clientArray},
            {"connections", connections},
            {"rateMode", rateMode},
            {"redis", redisState}};
}

StatsSnapshot StatsSnapshot::fromJson(const QJsonObject &json)
{
    StatsSnapshot s;
    s.version = json["version"].toString();
    s.timestampMs = qint64(json["timestampMs"].toDouble());
    s.uptimeSeconds = json["uptimeSeconds"].toDouble();
    const QJsonObject t = json["totals"].toObject();
    s.totals.requests = quint64(t["requests"].toDouble());
    s.totals.hits = quint64(t["hits"].toDouble());
    s.totals.misses = quint64(t["misses"].toDouble());
    s.totals.bypasses = quint64(t["bypasses"].toDouble());
    s.totals.coalesced = quint64(t["coalesced"].toDouble());
    s.totals.upstreamRequests = quint64(t["upstreamRequests"].toDouble());
    s.totals.upstream429 = quint64(t["upstream429"].toDouble());
    s.totals.errors = quint64(t["errors"].toDouble());
    s.totals.queueRejections = quint64(t["queueRejections"].toDouble());
    for (const auto &v : t["waitBucketBoundsMs"].toArray())
        s.totals.waitBucketBoundsMs.append(qint64(v.toDouble()));
    for (const auto &v : t["waitBucketCounts"].toArray())
        s.totals.waitBucketCounts.append(quint64(v.toDouble()));
    s.totals.waitSumMs = t["waitSumMs"].toDouble();
    const QJsonObject r = json["rates"].toObject();
    s.requestsPerSecond = r["requestsPerSecond"].toDouble();
    s.hitsPerSecond = r["hitsPerSecond"].toDouble();
    s.coalescedPerSecond = r["coalescedPerSecond"].toDouble();
    s.upstreamPerSecond = r["upstreamPerSecond"].toDouble();
    const QJsonObject c = json["cache"].toObject();
    s.cacheEntries = quint64(c["entries"].toDouble());
    s.cacheBytes = quint64(c["bytes"].toDouble());
    s.cacheMaxBytes = qint64(c["maxBytes"].toDouble());
    s.cacheTtlSeconds = c["ttlSeconds"].toDouble();
    s.cacheEvictions = quint64(c["evictions"].toDouble());
    for (const auto &v : json["domains"].toArray())
        s.domains.append(domainFromJson(v.toObject()));
    for (const auto &v : json["clients"].toArray())
        s.clients.append(clientFromJson(v.toObject()));
    s.connections = json["connections"].toInt();
    s.rateMode = json["rateMode"].toString();
    s.redisState = json["redis"].toString();
    return s;
}

QJsonObject requestRecordToJson(const RequestRecord &r)
{
    return {{"finishedAtMs", double(r.finishedAtMs)}, {"client", r.clientId},
            {"method", QString::fromLatin1(r.method)}, {"url", r.url},
            {"status", r.status}, {"cache", QString::fromLatin1(cacheStatusName(r.cacheStatus))},
            {"error", r.error}, {"waitMs", double(r.waitMs)}, {"totalMs", double(r.totalMs)},
            {"bytes", double(r.bytes)}};
}

RequestRecord requestRecordFromJson(const QJsonObject &o)
{
    RequestRecord r;
    r.finishedAtMs = qint64(o["finishedAtMs"].toDouble());
    r.clientId = o["client"].toString();
    r.method = o["method"].toString().toLatin1();
    r.url = o["url"].toString();
    r.status = o["status"].toInt();
    r.cacheStatus = cacheStatusFromName(o["cache"].toString());
    r.error = o["error"].toString();
    r.waitMs = qint64(o["waitMs"].toDouble());
    r.totalMs = qint64(o["totalMs"].toDouble());
    r.bytes = qint64(o["bytes"].toDouble());
    return r;
}

} // namespace prawmp
