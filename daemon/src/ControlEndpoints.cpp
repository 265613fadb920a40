#include "ControlEndpoints.h"

#include "EventSubscribers.h"
#include "ProxyServer.h"
#include "RequestEventFeed.h"

#include "prawmp/JsonResponses.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTimer>

namespace prawmp {

namespace {

constexpr qint64 kRateWindowMs = 5000;

Response methodNotAllowed(const QByteArray &allowed)
{
    Response r = jsonError(405, QStringLiteral("method_not_allowed"),
                           QStringLiteral("use %1 here").arg(QString::fromLatin1(allowed)));
    r.headers.set("Allow", allowed);
    return r;
}

QByteArray label(const QString &value)
{
    QByteArray v = value.toUtf8();
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    return v;
}

void metric(QByteArray &out, const char *name, const char *type, const char *help)
{
    out += QByteArray("# HELP ") + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
}

} // namespace

ControlEndpoints::ControlEndpoints(ProxyServer &server, RequestEventFeed &events)
    : QObject(&server), m_server(server), m_events(events)
{
    m_subscribers = new EventSubscribers(m_events, this);
    // Also without subscribers: /_mp/stats and /_mp/metrics show the rates.
    m_timer = new QTimer(this);
    connect(m_timer, &QTimer::timeout, this, [this] {
        takeSample();
        if (!m_subscribers->isEmpty())
            m_subscribers->sendStats(m_server.snapshot().toJson());
    });
    m_timer->start(kStatsIntervalMs);
}

bool ControlEndpoints::isControlTarget(QByteArrayView target)
{
    return target.startsWith("/_mp/") || target == QByteArrayView("/_mp");
}

void ControlEndpoints::handle(const IncomingRequest &request, const Deliver &deliver, const OpenStream &openStream)
{
    const qsizetype q = request.target.indexOf('?');
    const QByteArray path = q < 0 ? request.target : request.target.left(q);
    const bool get = request.method == "GET" || request.method == "HEAD";

    if (path == "/_mp/health") {
        if (!get)
            return deliver(methodNotAllowed("GET"));
        const StatsSnapshot s = m_server.snapshot();
        return deliver(jsonResponse(200, {{"status", QStringLiteral("ok")},
                                          {"version", s.version},
                                          {"uptimeSeconds", s.uptimeSeconds},
                                          {"redis", s.redisState},
                                          {"connections", s.connections}}));
    }
    if (path == "/_mp/stats") {
        if (!get)
            return deliver(methodNotAllowed("GET"));
        return deliver(jsonResponse(200, m_server.snapshot().toJson()));
    }
    if (path == "/_mp/metrics") {
        if (!get)
            return deliver(methodNotAllowed("GET"));
        Response r;
        r.status = 200;
        r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        r.body = prometheusText(m_server.snapshot());
        return deliver(r);
    }
    if (path == "/_mp/events") {
        if (request.method != "GET")
            return deliver(methodNotAllowed("GET"));
        return m_subscribers->add(openStream(), m_server.snapshot().toJson());
    }
    if (path == "/_mp/evict") {
        if (request.method != "POST")
            return deliver(methodNotAllowed("POST"));
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(request.body, &parseError);
        const QJsonValue urls = doc.object().value("urls");
        if (parseError.error != QJsonParseError::NoError || !doc.isObject() || !urls.isArray())
            return deliver(jsonError(400, QStringLiteral("bad_request"),
                                     QStringLiteral("expected a JSON body {\"urls\": [...]}")));
        QStringList list;
        for (const QJsonValue &v : urls.toArray()) {
            if (!v.isString())
                return deliver(jsonError(400, QStringLiteral("bad_request"),
                                         QStringLiteral("\"urls\" must hold strings")));
            list.append(v.toString());
        }
        return deliver(jsonResponse(200, {{"evicted", evictUrls(list)}}));
    }
    if (path == "/_mp/clear") {
        if (request.method != "POST")
            return deliver(methodNotAllowed("POST"));
        return deliver(jsonResponse(200, {{"cleared", m_server.pipeline().clear()}}));
    }
    deliver(jsonError(404, QStringLiteral("not_found"),
                      QStringLiteral("unknown control endpoint %1").arg(QString::fromUtf8(path))));
}

void ControlEndpoints::purge(const IncomingRequest &request, const Deliver &deliver)
{
    deliver(jsonResponse(200, {{"evicted", evictUrls({QString::fromUtf8(request.target)})}}));
}

int ControlEndpoints::evictUrls(const QStringList &urls)
{
    // Origin-form paths name the URL they are routed to.
    QStringList resolved;
    for (const QString &url : urls) {
        const Router::Result r = m_server.router().resolve(url.toUtf8());
        resolved.append(r.ok() ? r.url.toString() : url);
    }
    return m_server.pipeline().evict(resolved);
}

void ControlEndpoints::onRequestFinished(const RequestRecord &record)
{
    if (m_events.admit())
        m_events.push(RequestRecord(record));
}

void ControlEndpoints::takeSample()
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    m_samples.append({now, m_server.totals()});
    while (m_samples.size() > 2 && now - m_samples.first().ms > kRateWindowMs)
        m_samples.removeFirst();
}

void ControlEndpoints::fillRates(StatsSnapshot &stats) const
{
    if (m_samples.isEmpty())
        return;
    const Sample &first = m_samples.first();
    const double seconds = double(stats.timestampMs - first.ms) / 1000.0;
    if (seconds <= 0.05)
        return;
    const PipelineCounters &a = first.totals;
    const PipelineCounters &b = stats.totals;
    stats.requestsPerSecond = double(b.requests - a.requests) / seconds;
    stats.hitsPerSecond = double(b.hits - a.hits) / seconds;
    stats.coalescedPerSecond = double(b.coalesced - a.coalesced) / seconds;
    stats.upstreamPerSecond = double(b.upstreamRequests - a.upstreamRequests) / seconds;
}

QByteArray ControlEndpoints::prometheusText(const StatsSnapshot &s)
{
    QByteArray out;
    const auto counter = [&out](const char *name, const char *help, quint64 value) {
        metric(out, name, "counter", help);
        out += QByteArray(name) + ' ' + QByteArray::number(value) + '\n';
    };
    const auto gauge = [&out](const char *name, const char *help, double value) {
        metric(out, name, "gauge", help);
        out += QByteArray(name) + ' ' + QByteArray::number(value, 'g', 12) + '\n';
    };
    counter("prawmp_requests_total", "Proxied requests received.", s.totals.requests);
    counter("prawmp_cache_hits_total", "Requests answered from the cache.", s.totals.hits);
    counter("prawmp_cache_misses_total", "Cacheable requests not found in the cache.", s.totals.misses);
    counter("prawmp_cache_bypass_total", "Requests that skipped the cache.", s.totals.bypasses);
    counter("prawmp_coalesced_total", "Requests that shared an identical request's upstream call.", s.totals.coalesced);
    counter("prawmp_served_across_tokens_total",
            "Cached or coalesced answers another token of the same identity had asked for.",
            s.totals.servedAcrossTokens);
    counter("prawmp_upstream_requests_total", "Requests sent upstream.", s.totals.upstreamRequests);
    counter("prawmp_upstream_429_total", "Upstream answers with status 429.", s.totals.upstream429);
    counter("prawmp_errors_total", "Requests that ended without an upstream answer.", s.totals.errors);
    counter("prawmp_queue_rejections_total", "Requests refused because the wait was too long.", s.totals.queueRejections);
    gauge("prawmp_connected_clients", "Clients (peer + User-Agent) connected.", double(s.clients.size()));
    gauge("prawmp_connections", "Open client connections.", s.connections);
    gauge("prawmp_cache_entries", "Entries in the cache.", double(s.cacheEntries));
    gauge("prawmp_cache_bytes", "Bytes held by the cache.", double(s.cacheBytes));
    metric(out, "prawmp_redis_state", "gauge", "Distributed mode: 1 for the daemon's Redis state (off, ok, degraded).");
    for (const char *state : {"off", "ok", "degraded"})
        out += QByteArray("prawmp_redis_state{state=\"") + state + "\"} "
               + (s.redisState == QLatin1String(state) ? "1" : "0") + '\n';

    metric(out, "prawmp_queue_depth", "gauge", "Requests waiting for the rate limiter.");
    // One series per rate domain; "app" is its OAuth client id ("" for the
    // host's anonymous and unidentified domains).
    const auto domainLabels = [](const DomainState &d) {
        return "domain=\"" + label(d.domain) + "\",app=\"" + label(d.app) + '"';
    };
    for (const DomainState &d : s.domains)
        out += "prawmp_queue_depth{" + domainLabels(d) + "} " + QByteArray::number(d.queued) + '\n';
    metric(out, "prawmp_budget_remaining", "gauge", "Remaining requests of the current window, as the daemon sees it.");
    for (const DomainState &d : s.domains)
        out += "prawmp_budget_remaining{" + domainLabels(d) + "} "
               + QByteArray::number(d.budgetKnown ? d.remaining : -1, 'g', 12) + '\n';

    metric(out, "prawmp_wait_seconds", "histogram", "Time requests waited for the rate limiter.");
    const auto &bounds = s.totals.waitBucketBoundsMs;
    const auto &counts = s.totals.waitBucketCounts;
    for (qsizetype i = 0; i < bounds.size() && i < counts.size(); ++i)
        out += "prawmp_wait_seconds_bucket{le=\"" + QByteArray::number(double(bounds[i]) / 1000.0, 'g', 6) + "\"} "
               + QByteArray::number(counts[i]) + '\n';
    const quint64 total = counts.isEmpty() ? 0 : counts.last();
    out += "prawmp_wait_seconds_bucket{le=\"+Inf\"} " + QByteArray::number(total) + '\n';
    out += "prawmp_wait_seconds_sum " + QByteArray::number(s.totals.waitSumMs / 1000.0, 'g', 12) + '\n';
    out += "prawmp_wait_seconds_count " + QByteArray::number(total) + '\n';
    return out;
}

} // namespace prawmp
