#include "prawmp/StatsSnapshot.h"

#include <QJsonArray>

#include <cmath>
#include <limits>

namespace prawmp {

namespace {

// Counts and times decoded from whatever answered on the daemon's port:
// JSON numbers are doubles, and converting one outside an integer type's
// range (1e300, -1, NaN) is undefined behaviour. Out-of-range values clamp.
template <typename Int>
Int toInteger(const QJsonValue &value)
{
    const double d = value.toDouble();
    constexpr double lowest = double(std::numeric_limits<Int>::min()); // 0 or -2^63: exact
    constexpr double beyond = double(std::numeric_limits<Int>::max()); // rounds up to 2^64 or 2^63
    if (std::isnan(d))
        return 0;
    if (d <= lowest)
        return std::numeric_limits<Int>::min();
    if (d >= beyond)
        return std::numeric_limits<Int>::max();
    return Int(d);
}

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

} // namespace

QString DomainState::displayName() const
{
    if (label.isEmpty() || app.isEmpty() || !domain.endsWith(app))
        return domain;
    return domain.chopped(app.size()) + label;
}

namespace {

QJsonObject domainToJson(const DomainState &s)
{
    return {{"domain", s.domain},       {"app", s.app}, {"label", s.label},
            {"budgetKnown", s.budgetKnown},
            {"budget", s.budget},       {"remaining", s.remaining},
            {"secondsToReset", s.secondsToReset}, {"queued", s.queued},
            {"inFlight", s.inFlight},   {"paused", s.paused},
            {"granted", double(s.granted)}, {"rejected429", double(s.rejected429)},
            {"reserved", s.reserved},
            // What the limiter has learned of the upstream's window: why it waits.
            {"window", QJsonObject{{"seconds", s.windowSeconds},
                                   {"endLo", s.secondsToWindowEndLo},
                                   {"endHi", s.secondsToWindowEndHi},
                                   {"evidence", s.windowEvidence},
                                   {"fromAnswers", s.windowEndFromAnswers},
                                   {"counterResets", double(s.counterResets)}}}};
}

DomainState domainFromJson(const QJsonObject &o)
{
    DomainState s;
    s.domain = o["domain"].toString();
    s.app = o["app"].toString();
    s.label = o["label"].toString();
    s.budgetKnown = o["budgetKnown"].toBool();
    s.budget = o["budget"].toInt();
    s.remaining = o["remaining"].toDouble();
    s.secondsToReset = o["secondsToReset"].toDouble();
    s.queued = o["queued"].toInt();
    s.inFlight = o["inFlight"].toInt();
    s.paused = o["paused"].toBool();
    s.granted = toInteger<quint64>(o["granted"]);
    s.rejected429 = toInteger<quint64>(o["rejected429"]);
    s.reserved = o["reserved"].toDouble();
    const QJsonObject w = o["window"].toObject();
    s.windowSeconds = w["seconds"].toDouble();
    s.secondsToWindowEndLo = w["endLo"].toDouble();
    s.secondsToWindowEndHi = w["endHi"].toDouble();
    s.windowEvidence = w["evidence"].toInt();
    s.windowEndFromAnswers = w["fromAnswers"].toBool();
    s.counterResets = toInteger<quint64>(w["counterResets"]);
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
    c.requests = toInteger<quint64>(o["requests"]);
    c.hits = toInteger<quint64>(o["hits"]);
    c.waiting = o["waiting"].toInt();
    c.bytes = toInteger<quint64>(o["bytes"]);
    c.connectedSinceMs = toInteger<qint64>(o["connectedSinceMs"]);
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
        {"servedAcrossTokens", double(totals.servedAcrossTokens)},
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
            {"redis", redisState},
            {"engine", QJsonObject{{"servingThreads", servingThreads},
                                   {"servingThreadHits", double(servingThreadHits)},
                                   {"ioBackend", ioBackend}}},
            {"requestEventsNotSent", double(requestEventsNotSent)}};
}

StatsSnapshot StatsSnapshot::fromJson(const QJsonObject &json)
{
    StatsSnapshot s;
    s.version = json["version"].toString();
    s.timestampMs = toInteger<qint64>(json["timestampMs"]);
    s.uptimeSeconds = json["uptimeSeconds"].toDouble();
    const QJsonObject t = json["totals"].toObject();
    s.totals.requests = toInteger<quint64>(t["requests"]);
    s.totals.hits = toInteger<quint64>(t["hits"]);
    s.totals.misses = toInteger<quint64>(t["misses"]);
    s.totals.bypasses = toInteger<quint64>(t["bypasses"]);
    s.totals.coalesced = toInteger<quint64>(t["coalesced"]);
    s.totals.servedAcrossTokens = toInteger<quint64>(t["servedAcrossTokens"]);
    s.totals.upstreamRequests = toInteger<quint64>(t["upstreamRequests"]);
    s.totals.upstream429 = toInteger<quint64>(t["upstream429"]);
    s.totals.errors = toInteger<quint64>(t["errors"]);
    s.totals.queueRejections = toInteger<quint64>(t["queueRejections"]);
    for (const auto &v : t["waitBucketBoundsMs"].toArray())
        s.totals.waitBucketBoundsMs.append(toInteger<qint64>(v));
    for (const auto &v : t["waitBucketCounts"].toArray())
        s.totals.waitBucketCounts.append(toInteger<quint64>(v));
    s.totals.waitSumMs = t["waitSumMs"].toDouble();
    const QJsonObject r = json["rates"].toObject();
    s.requestsPerSecond = r["requestsPerSecond"].toDouble();
    s.hitsPerSecond = r["hitsPerSecond"].toDouble();
    s.coalescedPerSecond = r["coalescedPerSecond"].toDouble();
    s.upstreamPerSecond = r["upstreamPerSecond"].toDouble();
    const QJsonObject c = json["cache"].toObject();
    s.cacheEntries = toInteger<quint64>(c["entries"]);
    s.cacheBytes = toInteger<quint64>(c["bytes"]);
    s.cacheMaxBytes = toInteger<qint64>(c["maxBytes"]);
    s.cacheTtlSeconds = c["ttlSeconds"].toDouble();
    s.cacheEvictions = toInteger<quint64>(c["evictions"]);
    for (const auto &v : json["domains"].toArray())
        s.domains.append(domainFromJson(v.toObject()));
    for (const auto &v : json["clients"].toArray())
        s.clients.append(clientFromJson(v.toObject()));
    s.connections = json["connections"].toInt();
    s.rateMode = json["rateMode"].toString();
    s.redisState = json["redis"].toString();
    const QJsonObject e = json["engine"].toObject();
    s.servingThreads = e["servingThreads"].toInt();
    s.servingThreadHits = toInteger<quint64>(e["servingThreadHits"]);
    s.ioBackend = e["ioBackend"].toString();
    s.requestEventsNotSent = toInteger<quint64>(json["requestEventsNotSent"]);
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
    r.finishedAtMs = toInteger<qint64>(o["finishedAtMs"]);
    r.clientId = o["client"].toString();
    r.method = o["method"].toString().toLatin1();
    r.url = o["url"].toString();
    r.status = o["status"].toInt();
    r.cacheStatus = cacheStatusFromName(o["cache"].toString());
    r.error = o["error"].toString();
    r.waitMs = toInteger<qint64>(o["waitMs"]);
    r.totalMs = toInteger<qint64>(o["totalMs"]);
    r.bytes = toInteger<qint64>(o["bytes"]);
    return r;
}

} // namespace prawmp
