// needs: praw-multiprocess
// The daemon's control endpoints and request log: /_mp/health, the
// /_mp/stats JSON shape, /_mp/metrics checked by a small Prometheus text
// format parser, the /_mp/events stream, and --log-requests 1 output
// (one line per request, HIT prefix, no credentials).
#include "DaemonTestKit.h"
#include "StalledSubscriber.h"

#include <QMap>
#include <QRegularExpression>
#include <QSet>

#include <cmath>

using namespace dtk;
using prawmp::test::StalledSubscriber;
using prawmp::test::FakeReddit;

namespace {

// ---- A small Prometheus text format (0.0.4) parser --------------------------

struct Sample
{
    QString name;
    QMap<QString, QString> labels;
    double value = 0;
};

struct Family
{
    QString name;
    QString type;
    QString help;
    QList<Sample> samples;
};

bool parseValue(const QString &text, double *value)
{
    if (text == u"+Inf" || text == u"Inf") {
        *value = std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == u"-Inf") {
        *value = -std::numeric_limits<double>::infinity();
        return true;
    }
    if (text == u"NaN") {
        *value = std::nan("");
        return true;
    }
    bool ok = false;
    *value = text.toDouble(&ok);
    return ok;
}

// `{a="x",b="y\"z"}` without the braces.
QString parseLabels(const QString &text, QMap<QString, QString> *labels)
{
    static const QRegularExpression name(QStringLiteral("^[a-zA-Z_][a-zA-Z0-9_]*$"));
    qsizetype i = 0;
    while (i < text.size()) {
        const qsizetype eq = text.indexOf(u'=', i);
        if (eq < 0)
            return QStringLiteral("label without '=' in {%1}").arg(text);
        const QString key = text.mid(i, eq - i).trimmed();
        if (!name.match(key).hasMatch())
            return QStringLiteral("bad label name '%1'").arg(key);
        if (labels->contains(key))
            return QStringLiteral("label '%1' twice").arg(key);
        i = eq + 1;
        if (i >= text.size() || text[i] != u'"')
            return QStringLiteral("label value of '%1' not quoted").arg(key);
        ++i;
        QString value;
        bool closed = false;
        while (i < text.size()) {
            const QChar c = text[i++];
            if (c == u'\\') {
                if (i >= text.size())
                    return QStringLiteral("dangling escape");
                const QChar e = text[i++];
                if (e == u'n')
                    value += u'\n';
                else if (e == u'\\' || e == u'"')
                    value += e;
                else
                    return QStringLiteral("bad escape \\%1").arg(e);
            } else if (c == u'"') {
                closed = true;
                break;
            } else if (c == u'\n') {
                return QStringLiteral("raw newline in a label value");
            } else {
                value += c;
            }
        }
        if (!closed)
            return QStringLiteral("unterminated label value");
        labels->insert(key, value);
        if (i < text.size()) {
            if (text[i] != u',')
                return QStringLiteral("expected ',' after label '%1'").arg(key);
            ++i;
        }
    }
    return {};
}

// Checks the exposition format and returns the families by name; an
// error message (with the line) when the text breaks a rule.
QString parsePrometheus(const QByteArray &bytes, QMap<QString, Family> *families)
{
    static const QRegularExpression metricName(QStringLiteral("^[a-zA-Z_:][a-zA-Z0-9_:]*$"));
    static const QRegularExpression sampleLine(
        QStringLiteral(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+(-?\d+))?$)"));
    static const QStringList types{"counter", "gauge", "histogram", "summary", "untyped"};
    if (bytes.isEmpty() || !bytes.endsWith('\n'))
        return QStringLiteral("the text must end with a newline");
    const QString text = QString::fromUtf8(bytes);
    QString current; // family whose samples are being read
    QSet<QString> finished;
    int lineNo = 0;
    for (const QString &line : text.split(u'\n')) {
        ++lineNo;
        const QString where = QStringLiteral("line %1: '%2': ").arg(lineNo).arg(line);
        if (line.trimmed().isEmpty())
            continue;
        if (line.startsWith(u'#')) {
            const QStringList parts = line.split(u' ', Qt::SkipEmptyParts);
            if (parts.size() >= 3 && (parts[1] == u"HELP" || parts[1] == u"TYPE")) {
                const QString name = parts[2];
                if (!metricName.match(name).hasMatch())
                    return where + QStringLiteral("bad metric name");
                Family &f = (*families)[name];
                f.name = name;
                if (!f.samples.isEmpty())
                    return where + QStringLiteral("%1 after the family's samples").arg(parts[1]);
                if (parts[1] == u"HELP") {
                    if (!f.help.isEmpty())
                        return where + QStringLiteral("second HELP");
                    f.help = line.section(u' ', 3);
                    if (f.help.isEmpty())
                        return where + QStringLiteral("empty HELP");
                } else {
                    if (!f.type.isEmpty())
                        return where + QStringLiteral("second TYPE");
                    if (parts.size() != 4 || !types.contains(parts[3]))
                        return where + QStringLiteral("bad TYPE");
                    f.type = parts[3];
                }
            }
            continue; // other comments are free
        }
        const QRegularExpressionMatch m = sampleLine.match(line);
        if (!m.hasMatch())
            return where + QStringLiteral("not `name{labels} value`");
        Sample s;
        s.name = m.captured(1);
        if (QString e = parseLabels(m.captured(2), &s.labels); !e.isEmpty())
            return where + e;
        if (!parseValue(m.captured(3), &s.value))
            return where + QStringLiteral("bad value");
        // The family: histogram/summary series carry suffixes.
        QString family = s.name;
        for (const QString &suffix : {QStringLiteral("_bucket"), QStringLiteral("_sum"), QStringLiteral("_count")}) {
            if (s.name.endsWith(suffix)) {
                const QString base = s.name.chopped(suffix.size());
                const QString type = families->value(base).type;
                if (type == u"histogram" || (type == u"summary" && suffix != u"_bucket"))
                    family = base;
            }
        }
        if (!families->contains(family) || families->value(family).type.isEmpty()
            || families->value(family).help.isEmpty())
            return where + QStringLiteral("sample before the HELP and TYPE of %1").arg(family);
        if (family != current) {
            if (finished.contains(family))
                return where + QStringLiteral("samples of %1 are not in one group").arg(family);
            if (!current.isEmpty())
                finished.insert(current);
            current = family;
        }
        Family &f = (*families)[family];
        if (f.type == u"counter" && !(s.value >= 0))
            return where + QStringLiteral("negative counter");
        if (s.name.endsWith(u"_bucket") && f.type == u"histogram" && !s.labels.contains(QStringLiteral("le")))
            return where + QStringLiteral("bucket without le");
        f.samples.append(s);
    }
    // Histograms: buckets cumulative per label set, ending in +Inf = _count, with a _sum.
    for (const Family &f : std::as_const(*families)) {
        if (f.type != u"histogram")
            continue;
        QMap<QString, QList<QPair<double, double>>> buckets; // label set -> (le, count)
        QMap<QString, double> counts;
        QSet<QString> sums;
        for (const Sample &s : f.samples) {
            QMap<QString, QString> rest = s.labels;
            rest.remove(QStringLiteral("le"));
            QString key;
            for (auto it = rest.cbegin(); it != rest.cend(); ++it)
                key += it.key() + u'=' + it.value() + u',';
            if (s.name == f.name + QStringLiteral("_bucket")) {
                double le = 0;
                if (!parseValue(s.labels.value(QStringLiteral("le")), &le))
                    return QStringLiteral("%1: bad le '%2'").arg(f.name, s.labels.value(QStringLiteral("le")));
                buckets[key].append({le, s.value});
            } else if (s.name == f.name + QStringLiteral("_count")) {
                counts[key] = s.value;
            } else if (s.name == f.name + QStringLiteral("_sum")) {
                sums.insert(key);
            } else {
                return QStringLiteral("%1: unexpected series %2").arg(f.name, s.name);
            }
        }
        if (buckets.isEmpty())
            return QStringLiteral("%1: no buckets").arg(f.name);
        for (auto it = buckets.cbegin(); it != buckets.cend(); ++it) {
            const auto &list = it.value();
            for (qsizetype i = 1; i < list.size(); ++i) {
                if (!(list[i].first > list[i - 1].first))
                    return QStringLiteral("%1: le not increasing").arg(f.name);
                if (list[i].second < list[i - 1].second)
                    return QStringLiteral("%1: buckets not cumulative at le=%2").arg(f.name).arg(list[i].first);
            }
            if (!std::isinf(list.last().first))
                return QStringLiteral("%1: last bucket is not +Inf").arg(f.name);
            if (!counts.contains(it.key()) || counts.value(it.key()) != list.last().second)
                return QStringLiteral("%1: _count missing or not equal to the +Inf bucket").arg(f.name);
            if (!sums.contains(it.key()))
                return QStringLiteral("%1: _sum missing").arg(f.name);
        }
    }
    return {};
}

double sampleValue(const QMap<QString, Family> &families, const QString &name)
{
    const Family f = families.value(name);
    return f.samples.isEmpty() ? -1 : f.samples.first().value;
}


// The Server-Sent Events frames in `raw` (each is written in one chunk:
// the chunk framing never cuts one).
QList<QPair<QByteArray, QJsonObject>> eventFrames(const QByteArray &raw)
{
    static const QRegularExpression re(QStringLiteral("event: (\\w+)\ndata: ([^\n]*)\n\n"));
    QList<QPair<QByteArray, QJsonObject>> out;
    const QString text = QString::fromLatin1(raw);
    for (auto it = re.globalMatch(text); it.hasNext();) {
        const QRegularExpressionMatch m = it.next();
        out.append({m.captured(1).toLatin1(), QJsonDocument::fromJson(m.captured(2).toLatin1()).object()});
    }
    return out;
}

} // namespace

class TestDaemonControl : public QObject
{
    Q_OBJECT

private:
    FakeReddit m_reddit;

    QStringList baseArgs() const { return unpacedDaemonArgs(m_reddit.port()); }

private slots:
    void initTestCase()
    {
        if (prawmp::test::daemonProgram().isEmpty())
            QSKIP("praw-multiprocess is not built");
        QVERIFY(m_reddit.listen());
    }
    void init() { m_reddit.clearLog(); }

    void healthIsJson()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        const RawResponse r = fetch(daemon.port(), get("/_mp/health"));
        QCOMPARE(r.status, 200);
        QVERIFY(r.header("content-type").startsWith("application/json"));
        const QJsonObject o = r.json();
        QCOMPARE(o["status"].toString(), QStringLiteral("ok"));
        QCOMPARE(o["version"].toString(), QStringLiteral(PRAWMP_VERSION));
        QVERIFY(o["uptimeSeconds"].isDouble() && o["uptimeSeconds"].toDouble() >= 0);
        QCOMPARE(o["redis"].toString(), QStringLiteral("off"));
        QVERIFY(o["connections"].toInt() >= 1);
        // Never forwarded; wrong methods and unknown endpoints are errors of the contract's shape.
        QString e = checkJsonError(fetch(daemon.port(), httpRequest("POST", "/_mp/health")), 405);
        QVERIFY2(e.isEmpty(), qPrintable(e));
        e = checkJsonError(fetch(daemon.port(), get("/_mp/nothing-here")), 404);
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QCOMPARE(m_reddit.requestCount(), 0);
    }

    void statsHasTheContractShape()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        const QList<QPair<QByteArray, QByteArray>> ua{{"User-Agent", "stats-shape/1.0"}};
        QCOMPARE(client.request(get("/r/stats/about.json", ua)).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(client.request(get("/r/stats/about.json", ua)).header("x-cache"), QByteArray("HIT"));
        const RawResponse r = client.request(get("/_mp/stats", ua));
        QCOMPARE(r.status, 200);
        QVERIFY(r.header("content-type").startsWith("application/json"));
        const QJsonObject s = r.json();

        const auto keysOf = [](const QJsonObject &o) { QStringList k = o.keys(); k.sort(); return k; };
        const auto hasAll = [&](const QJsonObject &o, QStringList wanted, const char *what) {
            wanted.sort();
            const QStringList have = keysOf(o);
            for (const QString &w : wanted)
                if (!have.contains(w))
                    return QStringLiteral("%1 lacks '%2' (has %3)").arg(QLatin1String(what), w, have.join(u','));
            return QString();
        };
        QString e = hasAll(s, {"version", "timestampMs", "uptimeSeconds", "totals", "rates", "cache", "domains",
                               "clients", "connections", "rateMode", "redis", "engine", "requestEventsNotSent"},
                   "stats");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        e = hasAll(s["engine"].toObject(), {"servingThreads", "servingThreadHits"}, "engine");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const QJsonObject totals = s["totals"].toObject();
        e = hasAll(totals, {"requests", "hits", "misses", "bypasses", "coalesced", "upstreamRequests", "upstream429",
                            "errors", "queueRejections", "waitBucketBoundsMs", "waitBucketCounts", "waitSumMs"}, "totals");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QCOMPARE(totals["requests"].toInt(), 2);
        QCOMPARE(totals["hits"].toInt(), 1);
        QCOMPARE(totals["misses"].toInt(), 1);
        QCOMPARE(totals["upstreamRequests"].toInt(), 1);
        QCOMPARE(totals["upstream429"].toInt(), 0);
        QCOMPARE(totals["waitBucketCounts"].toArray().size(), totals["waitBucketBoundsMs"].toArray().size() + 1);
        e = hasAll(s["rates"].toObject(), {"requestsPerSecond", "hitsPerSecond", "coalescedPerSecond", "upstreamPerSecond"},
                   "rates");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const QJsonObject cache = s["cache"].toObject();
        e = hasAll(cache, {"entries", "bytes", "maxBytes", "ttlSeconds", "evictions", "hitRatio"}, "cache");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QCOMPARE(cache["entries"].toInt(), 1);
        QVERIFY(cache["bytes"].toDouble() > 0);
        QCOMPARE(cache["ttlSeconds"].toDouble(), 30.0);
        QCOMPARE(cache["maxBytes"].toDouble(), 256.0 * 1024 * 1024);

        const QJsonArray domains = s["domains"].toArray();
        QCOMPARE(domains.size(), 1);
        const QJsonObject d = domains.first().toObject();
        e = hasAll(d, {"domain", "budgetKnown", "budget", "remaining", "secondsToReset", "queued", "inFlight", "paused",
                       "granted", "rejected429"}, "domain");
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QCOMPARE(d["domain"].toString(), QStringLiteral("127.0.0.1"));
        QCOMPARE(d["granted"].toInt(), 1);
        QCOMPARE(d["queued"].toInt(), 0);

        const QJsonArray clients = s["clients"].toArray();
        QVERIFY(!clients.isEmpty());
        bool found = false;
        for (const QJsonValue &v : clients) {
            const QJsonObject c = v.toObject();
            e = hasAll(c, {"id", "peer", "userAgent", "requests", "hits", "waiting", "bytes", "connectedSinceMs",
                           "connections"}, "client");
            QVERIFY2(e.isEmpty(), qPrintable(e));
            if (c["userAgent"].toString() == u"stats-shape/1.0") {
                found = true;
                QCOMPARE(c["requests"].toInt(), 2);
                QCOMPARE(c["hits"].toInt(), 1);
                QCOMPARE(c["peer"].toString(), QStringLiteral("127.0.0.1"));
                QVERIFY(c["connections"].toInt() >= 1);
            }
        }
        QVERIFY2(found, qPrintable(QJsonDocument(clients).toJson()));
        QVERIFY(s["connections"].toInt() >= 1);
        QCOMPARE(s["rateMode"].toString(), QStringLiteral("fixed"));
        QCOMPARE(s["redis"].toString(), QStringLiteral("off"));
        QCOMPARE(s["version"].toString(), QStringLiteral(PRAWMP_VERSION));
    }

    void prometheusParserCatchesBrokenText_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::newRow("no final newline") << QByteArray("# HELP a x\n# TYPE a gauge\na 1");
        QTest::newRow("sample before TYPE") << QByteArray("# HELP a x\na 1\n# TYPE a gauge\n");
        QTest::newRow("no HELP") << QByteArray("# TYPE a gauge\na 1\n");
        QTest::newRow("bad value") << QByteArray("# HELP a x\n# TYPE a gauge\na one\n");
        QTest::newRow("bad label") << QByteArray("# HELP a x\n# TYPE a gauge\na{b=c} 1\n");
        QTest::newRow("split group")
            << QByteArray("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 2\n");
        QTest::newRow("not cumulative")
            << QByteArray("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"2\"} 3\n"
                          "h_bucket{le=\"+Inf\"} 5\nh_sum 1\nh_count 5\n");
        QTest::newRow("no +Inf")
            << QByteArray("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n");
        QTest::newRow("count mismatch")
            << QByteArray("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n");
    }
    void prometheusParserCatchesBrokenText()
    {
        QFETCH(QByteArray, text);
        QMap<QString, Family> families;
        QVERIFY(!parsePrometheus(text, &families).isEmpty());
        // And a good one passes.
        families.clear();
        const QString ok = parsePrometheus("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                                           "h_sum 1.5\nh_count 2\n# HELP c y\n# TYPE c counter\nc{k=\"a\\\"b\"} 3\n",
                                           &families);
        QVERIFY2(ok.isEmpty(), qPrintable(ok));
    }

    void metricsParseAsPrometheusText()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        QCOMPARE(client.request(get("/r/metrics/about.json")).status, 200);
        QCOMPARE(client.request(get("/r/metrics/about.json")).header("x-cache"), QByteArray("HIT"));
        const RawResponse r = client.request(get("/_mp/metrics"));
        QCOMPARE(r.status, 200);
        QVERIFY2(r.header("content-type").startsWith("text/plain"), r.header("content-type").constData());
        QMap<QString, Family> families;
        const QString error = parsePrometheus(r.body, &families);
        QVERIFY2(error.isEmpty(), qPrintable(error + u'\n' + QString::fromUtf8(r.body)));

        const QMap<QString, QString> required{
            {"prawmp_requests_total", "counter"},       {"prawmp_cache_hits_total", "counter"},
            {"prawmp_cache_misses_total", "counter"},   {"prawmp_upstream_requests_total", "counter"},
            {"prawmp_upstream_429_total", "counter"},   {"prawmp_queue_depth", "gauge"},
            {"prawmp_wait_seconds", "histogram"},       {"prawmp_connected_clients", "gauge"}};
        for (auto it = required.cbegin(); it != required.cend(); ++it) {
            QVERIFY2(families.contains(it.key()), qPrintable(it.key() + QStringLiteral(" missing\n") + QString::fromUtf8(r.body)));
            QCOMPARE(families.value(it.key()).type, it.value());
            QVERIFY2(!families.value(it.key()).samples.isEmpty(), qPrintable(it.key() + QStringLiteral(" has no sample")));
        }
        QCOMPARE(sampleValue(families, "prawmp_requests_total"), 2.0);
        QCOMPARE(sampleValue(families, "prawmp_cache_hits_total"), 1.0);
        QCOMPARE(sampleValue(families, "prawmp_cache_misses_total"), 1.0);
        QCOMPARE(sampleValue(families, "prawmp_upstream_requests_total"), 1.0);
        QCOMPARE(sampleValue(families, "prawmp_upstream_429_total"), 0.0);
        QCOMPARE(sampleValue(families, "prawmp_connected_clients"), 1.0);
        const Family depth = families.value("prawmp_queue_depth");
        QCOMPARE(depth.samples.first().labels.value("domain"), QStringLiteral("127.0.0.1"));
        QCOMPARE(depth.samples.first().value, 0.0);
        double waitCount = -1;
        for (const Sample &s : families.value("prawmp_wait_seconds").samples)
            if (s.name == u"prawmp_wait_seconds_count")
                waitCount = s.value;
        QCOMPARE(waitCount, 1.0);
    }

    void eventsStreamStatsAndRequests()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        QElapsedTimer timer;
        timer.start();
        EventStream stream(daemon.port());
        const auto isStats = [](const prawmp::SseParser::Event &e) { return e.name == "stats"; };
        QVERIFY2(stream.waitForEvent(isStats, 1000), "no stats frame within 1 s");
        QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
        QCOMPARE(stream.status(), 200);
        QVERIFY(stream.headers().value("content-type").startsWith("text/event-stream"));
        const QJsonObject first = QJsonDocument::fromJson(stream.events().first().data).object();
        QVERIFY(first.contains("totals") && first.contains("domains") && first.contains("clients"));

        // More stats frames keep coming, at least every 500 ms.
        const qsizetype seen = stream.events().size();
        QVERIFY(stream.waitForEvent(isStats, 1500, seen));
        QVERIFY(stream.waitForEvent(isStats, 1500, stream.events().size()));
        const QList<qint64> times = stream.eventTimesMs();
        QVERIFY2(times.last() - times.first() <= 1400, qPrintable(QString::number(times.last() - times.first())));

        // One request event per proxied request.
        const qsizetype before = stream.events().size();
        QCOMPARE(fetch(daemon.port(), get("/r/events/about.json")).status, 200);
        const auto isRequest = [](const prawmp::SseParser::Event &e) {
            const QJsonObject o = QJsonDocument::fromJson(e.data).object();
            return e.name == "request" && o["url"].toString().contains(u"/r/events/about.json");
        };
        QVERIFY2(stream.waitForEvent(isRequest, 1000, before), "no request event within 1 s");
        QJsonObject request;
        for (qsizetype i = before; i < stream.events().size(); ++i)
            if (isRequest(stream.events()[i]))
                request = QJsonDocument::fromJson(stream.events()[i].data).object();
        QCOMPARE(request["method"].toString(), QStringLiteral("GET"));
        QCOMPARE(request["status"].toInt(), 200);
        QCOMPARE(request["cache"].toString(), QStringLiteral("MISS"));
        const qsizetype afterMiss = stream.events().size();
        QCOMPARE(fetch(daemon.port(), get("/r/events/about.json")).header("x-cache"), QByteArray("HIT"));
        const auto isHit = [&](const prawmp::SseParser::Event &e) {
            return isRequest(e) && QJsonDocument::fromJson(e.data).object()["cache"].toString() == u"HIT";
        };
        QVERIFY(stream.waitForEvent(isHit, 1000, afterMiss));
        QVERIFY(!stream.isClosed());
    }

    // The dashboard's event stream watches the serving threads; it does not
    // move the hits to another path, and every hit is counted: in the totals,
    // for its client, and as a request event sent or counted as not sent.
    void hitsWithSubscriberAreServedOnServingThreadsAndCountedExactly()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "2"}), qPrintable(daemon.describe()));
        EventStream stream(daemon.port());
        const auto isStats = [](const prawmp::SseParser::Event &e) { return e.name == "stats"; };
        QVERIFY2(stream.waitForEvent(isStats, 2000), "no stats frame");
        // The miss on a connection of its own: a connection with a request
        // for the main thread stays there.
        const QByteArray target = "/r/watched/hot.json";
        QCOMPARE(fetch(daemon.port(), get(target)).header("x-cache"), QByteArray("MISS"));

        constexpr int kBatches = 30;
        constexpr int kPerBatch = 100; // pipelined: past the event rate on a fast machine
        constexpr int kHits = kBatches * kPerBatch;
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        QByteArray batch;
        for (int i = 0; i < kPerBatch; ++i)
            batch += get(target, {{"User-Agent", "watched-hits/1.0"}});
        for (int b = 0; b < kBatches; ++b) {
            client.write(batch, QList<bool>(kPerBatch, false));
            QVERIFY2(client.waitForResponses((b + 1) * kPerBatch), qPrintable(QString::number(b)));
        }
        for (const RawResponse &r : client.responses())
            QCOMPARE(r.header("x-cache"), QByteArray("HIT"));

        const QJsonObject s = fetchJson(daemon.port(), "/_mp/stats");
        const QJsonObject totals = s["totals"].toObject();
        QCOMPARE(totals["requests"].toInteger(), kHits + 1);
        QCOMPARE(totals["hits"].toInteger(), kHits);
        QCOMPARE(totals["misses"].toInteger(), 1);
        QCOMPARE(s["engine"].toObject()["servingThreads"].toInt(), 2);
        QCOMPARE(s["engine"].toObject()["servingThreadHits"].toInteger(), kHits);
        bool found = false;
        for (const QJsonValue &v : s["clients"].toArray()) {
            const QJsonObject c = v.toObject();
            if (c["userAgent"].toString() != u"watched-hits/1.0")
                continue;
            found = true;
            QCOMPARE(c["requests"].toInteger(), kHits);
            QCOMPARE(c["hits"].toInteger(), kHits);
        }
        QVERIFY2(found, qPrintable(QJsonDocument(s["clients"].toArray()).toJson()));

        // Every hit is a request event, either sent or counted as not sent.
        const auto isWatchedHit = [&](const prawmp::SseParser::Event &e) {
            const QJsonObject o = QJsonDocument::fromJson(e.data).object();
            return e.name == "request" && o["url"].toString().contains(QLatin1String(target))
                && o["cache"].toString() == u"HIT";
        };
        qint64 sent = 0, notSent = -1;
        const bool accounted = QTest::qWaitFor([&] {
            sent = std::count_if(stream.events().cbegin(), stream.events().cend(), isWatchedHit);
            for (auto it = stream.events().crbegin(); it != stream.events().crend(); ++it)
                if (isStats(*it)) {
                    notSent = QJsonDocument::fromJson(it->data).object()["requestEventsNotSent"].toInteger();
                    break;
                }
            return sent + notSent == kHits;
        }, 5000);
        QVERIFY2(accounted, qPrintable(QStringLiteral("%1 sent + %2 not sent != %3").arg(sent).arg(notSent).arg(kHits)));
        qInfo("%lld request events sent, %lld counted as not sent", sent, notSent);
        QVERIFY(!stream.isClosed());
        QVERIFY(daemon.stop());
    }

    // A serving thread passes a request it cannot answer from the cache (a
    // miss, a refused route, a HEAD, a POST, a control request) to the main
    // thread and writes the answer itself, in order: the connection stays on
    // its serving thread, and the hits after a miss are answered there again
    // (servingThreadHits counts them). Watched or not. Misses pipelined on
    // one connection wait in the queue together, and their answers go out
    // in order.
    void missesStayOnTheirServingThread()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "2"}), qPrintable(daemon.describe()));
        EventStream stream(daemon.port()); // the dashboard watching
        QVERIFY(stream.waitForEvent([](const prawmp::SseParser::Event &e) { return e.name == "stats"; }, 2000));
        RawClient control(daemon.port());  // stats, evict, clear: answered on its serving thread
        QVERIFY(control.waitConnected());
        const auto stats = [&] { return control.request(get("/_mp/stats")).json(); };
        const auto servingThreadHits = [](const QJsonObject &s) {
            return s["engine"].toObject()["servingThreadHits"].toInteger();
        };
        const QJsonObject before = stats();

        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        const RawResponse miss = client.request(get("/r/stay/hot.json"));
        QCOMPARE(miss.status, 200);
        QCOMPARE(miss.header("x-cache"), QByteArray("MISS"));
        const RawResponse hit = client.request(get("/r/stay/hot.json"));
        QCOMPARE(hit.header("x-cache"), QByteArray("HIT"));
        QCOMPARE(hit.body, miss.body);
        const RawResponse head = client.request(httpRequest("HEAD", "/r/stay/new.json"), true);
        QCOMPARE(head.status, 200);
        QVERIFY(head.body.isEmpty());
        QVERIFY(head.header("content-length").toLongLong() > 0);
        const RawResponse refused = client.request(get("http://not-allowed.invalid/r/x"));
        QCOMPARE(refused.status, 403);
        QCOMPARE(refused.json()["error"].toString(), QStringLiteral("host_not_allowed"));
        const RawResponse fresh = client.request(get("/r/stay/hot.json", {{"Cache-Control", "no-cache"}}));
        QCOMPARE(fresh.status, 200);
        QVERIFY(fresh.header("x-cache") != "HIT");
        const RawResponse post = client.request(httpRequest("POST", "/api/comment",
            {{"Content-Type", "application/x-www-form-urlencoded"}}, "thing_id=t3_x&text=stay"));
        QVERIFY2(post.status > 0 && post.header("x-cache") == "BYPASS", qPrintable(post.describe()));
        // Hits pipelined in front of a miss: answered in order, on this thread.
        client.write(get("/r/stay/hot.json") + get("/r/stay/hot.json") + get("/r/stay/top.json"),
                     {false, false, false});
        QVERIFY(client.waitForResponses(9));
        QCOMPARE(client.responses()[6].header("x-cache"), QByteArray("HIT"));
        QCOMPARE(client.responses()[7].header("x-cache"), QByteArray("HIT"));
        QCOMPARE(client.responses()[8].header("x-cache"), QByteArray("MISS"));
        QVERIFY(client.isConnected());
        // The last request of a client (Connection: close) is answered and closes.
        const RawResponse last = client.request(get("/r/last/hot.json", {{"Connection", "close"}}));
        QCOMPARE(last.status, 200);
        QCOMPARE(last.header("connection").toLower(), QByteArray("close"));
        QVERIFY(client.waitForClosed());

        const QJsonObject after = stats();
        QCOMPARE(servingThreadHits(after) - servingThreadHits(before), 3);

        // Misses pipelined with hits: passed on together, answered in order
        // (the slow first one holds the others back), on this thread.
        RawClient pipelining(daemon.port());
        QVERIFY(pipelining.waitConnected());
        pipelining.write(get("/r/slowpipe/hot.json?__delay_ms=300") + get("/r/stay/hot.json")
                             + get("/r/fastpipe/hot.json") + get("/r/stay/hot.json"),
                         {false, false, false, false});
        QVERIFY(pipelining.waitForResponses(4));
        const QList<RawResponse> &p = pipelining.responses();
        QCOMPARE(p[0].json()["sub"].toString(), QStringLiteral("slowpipe"));
        QCOMPARE(p[1].header("x-cache"), QByteArray("HIT"));
        QCOMPARE(p[2].json()["sub"].toString(), QStringLiteral("fastpipe"));
        QCOMPARE(p[3].header("x-cache"), QByteArray("HIT"));
        // A malformed request is refused on the serving thread too, after the
        // answers owed before it, and ends the connection.
        RawClient malformed(daemon.port());
        QVERIFY(malformed.waitConnected());
        malformed.write(get("/r/beforebad/hot.json?__delay_ms=200") + "GET /r/x/hot.json HTTX/1.1\r\nHost: x\r\n\r\n",
                        {false, false});
        QVERIFY(malformed.waitForResponses(2));
        QCOMPARE(malformed.responses()[0].json()["sub"].toString(), QStringLiteral("beforebad"));
        QCOMPARE(malformed.responses()[1].status, 400);
        QCOMPARE(malformed.responses()[1].json()["error"].toString(), QStringLiteral("bad_request"));
        QVERIFY(malformed.waitForClosed());
        // PURGE and clear, answered on the control connection.
        QCOMPARE(control.request(httpRequest("PURGE", "/r/stay/hot.json")).json()["evicted"].toInt(), 1);
        QCOMPARE(control.request(httpRequest("POST", "/_mp/clear")).status, 200);
        QVERIFY(!stream.isClosed());
        QVERIFY(daemon.stop());
    }

    // What used to need the main thread's connection stays on its serving
    // thread too: a request sent in pieces, a body over 64 KiB, Expect:
    // 100-continue, and the event stream itself (pipelined behind a hit,
    // and over HTTP/1.0). The hits after each on the same
    // connection are still counted as the serving threads'.
    void slowLongAndStreamedRequestsStayOnTheirServingThread()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "2"}), qPrintable(daemon.describe()));
        RawClient control(daemon.port());
        QVERIFY(control.waitConnected());
        const auto servingThreadHits = [&] {
            return control.request(get("/_mp/stats")).json()["engine"].toObject()["servingThreadHits"].toInteger();
        };
        QCOMPARE(fetch(daemon.port(), get("/r/keep/hot.json")).header("x-cache"), QByteArray("MISS"));
        const qint64 hits = servingThreadHits();

        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        // In pieces of 7 bytes, 20 ms apart.
        const QByteArray pieces = get("/r/keep/hot.json", {{"User-Agent", "pieces/1.0"}});
        client.expect();
        for (qsizetype i = 0; i < pieces.size(); i += 7) {
            client.writePart(pieces.mid(i, 7));
            QTest::qWait(20);
        }
        QVERIFY(client.waitForResponses(1));
        QCOMPARE(client.responses()[0].status, 200);
        QCOMPARE(client.responses()[0].header("x-cache"), QByteArray("HIT"));
        QCOMPARE(client.request(get("/r/keep/hot.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(servingThreadHits(), hits + 1);

        // A 300 KiB body, over many reads.
        const RawResponse big = client.request(httpRequest(
            "POST", "/api/comment", {{"Content-Type", "application/x-www-form-urlencoded"}},
            "thing_id=t3_x&text=" + QByteArray(300 * 1024, 'x')));
        QVERIFY2(big.status > 0 && big.header("x-cache") == "BYPASS", qPrintable(big.describe())); // the fake asks for a token
        QCOMPARE(client.request(get("/r/keep/hot.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(servingThreadHits(), hits + 2);

        // Expect: 100-continue: the interim answer, then the body, then the answer.
        const QByteArray body = "thing_id=t3_x&text=expect";
        QByteArray expecting = httpRequest(
            "POST", "/api/comment",
            {{"Content-Type", "application/x-www-form-urlencoded"}, {"Expect", "100-continue"}}, body);
        expecting.chop(body.size());
        const qsizetype answered = client.responses().size();
        client.write(expecting);
        QVERIFY(QTest::qWaitFor([&] { return client.pendingInterim() == QList<int>{100}; }, 5000));
        QCOMPARE(client.responses().size(), answered); // no answer before the body
        client.writePart(body);
        QVERIFY(client.waitForResponses(int(answered) + 1));
        QCOMPARE(client.responses().last().interim, QList<int>{100});
        QCOMPARE(client.responses().last().header("x-cache"), QByteArray("BYPASS"));
        QCOMPARE(client.request(get("/r/keep/hot.json")).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(servingThreadHits(), hits + 3);

        // The stream pipelined behind a hit: the hit, then the stream.
        RawClient watcher(daemon.port());
        QVERIFY(watcher.waitConnected());
        watcher.write(get("/r/keep/hot.json") + get("/_mp/events"), {false});
        QVERIFY(watcher.waitForResponses(1));
        QCOMPARE(watcher.responses()[0].header("x-cache"), QByteArray("HIT"));
        QVERIFY2(QTest::qWaitFor([&] { return watcher.unparsed().contains("event: stats"); }, 5000),
                 qPrintable(QString::fromLatin1(watcher.unparsed())));
        QVERIFY(watcher.unparsed().startsWith("HTTP/1.1 200"));
        QVERIFY(watcher.unparsed().contains("Transfer-Encoding: chunked"));
        QCOMPARE(servingThreadHits(), hits + 4);
        // It carries the request events of the other serving threads' hits.
        QCOMPARE(client.request(get("/r/keep/hot.json", {{"User-Agent", "seen-by-watcher/1.0"}})).status, 200);
        QVERIFY(QTest::qWaitFor([&] { return watcher.unparsed().contains("seen-by-watcher/1.0"); }, 5000));

        // Behind a slow miss: its frames wait for the miss's answer, then follow it.
        RawClient late(daemon.port());
        QVERIFY(late.waitConnected());
        late.write(get("/r/slowstream/hot.json?__delay_ms=1200") + get("/_mp/events"), {false});
        QVERIFY(late.waitForResponses(1));
        QCOMPARE(late.responses()[0].json()["sub"].toString(), QStringLiteral("slowstream"));
        QVERIFY(QTest::qWaitFor([&] { return late.unparsed().count("event: stats") >= 2; }, 5000));
        QVERIFY(late.unparsed().startsWith("HTTP/1.1 200"));

        // HTTP/1.0: no chunks; the stream ends with the connection.
        RawClient old(daemon.port());
        QVERIFY(old.waitConnected());
        old.write("GET /_mp/events HTTP/1.0\r\n\r\n", {});
        QVERIFY(QTest::qWaitFor([&] { return old.unparsed().contains("event: stats"); }, 5000));
        QVERIFY(old.unparsed().startsWith("HTTP/1.0 200") || old.unparsed().startsWith("HTTP/1.1 200"));
        QVERIFY(!old.unparsed().contains("chunked"));
        QVERIFY(old.unparsed().contains("\r\n\r\nevent: stats"));

        QVERIFY(!watcher.isClosed());
        QVERIFY(!old.isClosed());
        QVERIFY(daemon.stop());
    }

    // --threads 0 used to serve on the main event loop; there is one engine
    // now, so it is taken as one serving thread, and the daemon says so.
    void threadsZeroIsOneServingThread()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "0"}), qPrintable(daemon.describe()));
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        QCOMPARE(client.request(get("/r/zero/hot.json")).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(client.request(get("/r/zero/hot.json")).header("x-cache"), QByteArray("HIT"));
        const QJsonObject engine = client.request(get("/_mp/stats")).json()["engine"].toObject();
        QCOMPARE(engine["servingThreads"].toInt(), 1);
        QCOMPARE(engine["servingThreadHits"].toInteger(), 1);
        QVERIFY2(daemon.standardError().contains(QStringLiteral("--threads 0: one serving thread")),
                 qPrintable(daemon.standardError()));
        QVERIFY(daemon.stop());
    }

    // A subscriber that does not read falls behind by more than 1 MiB: it
    // gets no more request events, only stats frames that count them as
    // not sent, while the subscriber that reads and the clients are served
    // throughout. (Its disconnection past 8 MiB, which stats frames alone
    // take long to reach, is tested on EventSubscribers with small limits.)
    void slowSubscriberGetsStatsFramesOnly()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "2"}), qPrintable(daemon.describe()));
        EventStream fast(daemon.port());
        const auto isStats = [](const prawmp::SseParser::Event &e) { return e.name == "stats"; };
        QVERIFY2(fast.waitForEvent(isStats, 5000), "no stats frame");
        StalledSubscriber slow;
        QVERIFY(slow.subscribe(daemon.port(), get("/_mp/events")));
        QVERIFY(QTest::qWaitFor([&] {
            slow.read();
            return slow.raw.contains("event: stats");
        }, 5000));

        // Long URLs make big request events: some 2.5 KiB each.
        const QByteArray target = "/r/watched/hot.json?pad=" + QByteArray(2400, 'p');
        QCOMPARE(fetch(daemon.port(), get(target)).header("x-cache"), QByteArray("MISS"));
        constexpr int kBatches = 20;
        constexpr int kPerBatch = 100;
        constexpr int kRequests = kBatches * kPerBatch + 1;
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        QByteArray batch;
        for (int i = 0; i < kPerBatch; ++i)
            batch += get(target, {{"User-Agent", "slow-subscriber/1.0"}});
        for (int b = 0; b < kBatches; ++b) {
            client.write(batch, QList<bool>(kPerBatch, false));
            QVERIFY2(client.waitForResponses((b + 1) * kPerBatch), qPrintable(QString::number(b)));
        }

        const auto isWatched = [&](const QByteArray &name, const QJsonObject &o) {
            return name == "request" && o["url"].toString().contains(QLatin1String(target));
        };
        // The reading subscriber: every event sent or counted as not sent.
        qint64 fastSent = 0, fastNotSent = -1;
        QVERIFY(QTest::qWaitFor([&] {
            fastSent = std::count_if(fast.events().cbegin(), fast.events().cend(), [&](const auto &e) {
                return isWatched(e.name, QJsonDocument::fromJson(e.data).object());
            });
            for (auto it = fast.events().crbegin(); it != fast.events().crend(); ++it)
                if (isStats(*it)) {
                    fastNotSent = QJsonDocument::fromJson(it->data).object()["requestEventsNotSent"].toInteger();
                    break;
                }
            return fastSent + fastNotSent == kRequests;
        }, 10000));
        QVERIFY(!fast.isClosed());

        // The stalled one catches up now: its own count adds the events it
        // was too slow for, and it got fewer.
        qint64 slowSent = 0, slowNotSent = -1;
        const bool accounted = QTest::qWaitFor([&] {
            slow.read();
            const auto frames = eventFrames(slow.raw);
            slowSent = std::count_if(frames.cbegin(), frames.cend(), [&](const auto &f) { return isWatched(f.first, f.second); });
            for (auto it = frames.crbegin(); it != frames.crend(); ++it)
                if (it->first == "stats") {
                    slowNotSent = it->second["requestEventsNotSent"].toInteger();
                    break;
                }
            return slowSent + slowNotSent == kRequests;
        }, 10000);
        QVERIFY2(accounted, qPrintable(QStringLiteral("%1 sent + %2 not sent != %3").arg(slowSent).arg(slowNotSent).arg(kRequests)));
        qInfo("reading subscriber: %lld sent, %lld not sent; stalled one: %lld sent, %lld not sent",
              fastSent, fastNotSent, slowSent, slowNotSent);
        QVERIFY2(slowNotSent > fastNotSent, "the stalled subscriber was sent every request event");
        // Past the limit, not before: it got more than 1 MiB of them.
        QVERIFY2(slowSent * qint64(target.size()) > 1024 * 1024, qPrintable(QString::number(slowSent)));
        // Stats frames reached it after it had fallen behind.
        QVERIFY(slowNotSent - fastNotSent > 0);
        QVERIFY(daemon.stop());
    }

    // --log-requests watches the serving threads too: each hit answered
    // there gets its line, written by the log thread.
    void logRequestsKeepsHitsOnServingThreads()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--threads", "2", "--log-requests", "1"}),
                 qPrintable(daemon.describe()));
        const QByteArray target = "/r/loggedhits/hot.json";
        QCOMPARE(fetch(daemon.port(), get(target)).header("x-cache"), QByteArray("MISS"));
        constexpr int kHits = 20;
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        for (int i = 0; i < kHits; ++i)
            QCOMPARE(client.request(get(target)).header("x-cache"), QByteArray("HIT"));
        const QJsonObject s = fetchJson(daemon.port(), "/_mp/stats");
        QCOMPARE(s["engine"].toObject()["servingThreadHits"].toInteger(), kHits);
        const QRegularExpression hitLine(QStringLiteral(R"((^|: )HIT GET http://127\.0\.0\.1:\d+/r/loggedhits/hot\.json 200 HIT wait=\d+ms total=\d+ms$)"));
        const auto countHitLines = [&] {
            int n = 0;
            for (const QString &line : daemon.lines())
                n += hitLine.match(line).hasMatch() ? 1 : 0;
            return n;
        };
        QTRY_COMPARE_WITH_TIMEOUT(countHitLines(), kHits, 3000);
        QVERIFY(daemon.stop());
    }

    void logRequestsPrintsOneRedactedLinePerRequest()
    {
        ProcessFixture daemon;
        const QByteArray proxyToken = "PROXYSECRET-tok";
        QVERIFY2(startDaemon(daemon, baseArgs() + QStringList{"--log-requests", "1", "--auth-token",
                                                              QString::fromLatin1(proxyToken)}),
                 qPrintable(daemon.describe()));
        const QString userToken = m_reddit.issueToken(QStringLiteral("erin"));
        const QList<QPair<QByteArray, QByteArray>> fields{{"Proxy-Authorization", "Bearer " + proxyToken},
                                                          {"Authorization", "bearer " + userToken.toLatin1()},
                                                          {"Cookie", "reddit_session=COOKIESECRET"}};
        const QByteArray target = "/r/logsub/hot.json?limit=5&access_token=QUERYSECRET1&api_key=QUERYSECRET2&password=QUERYSECRET3";
        RawClient client(daemon.port());
        QVERIFY(client.waitConnected());
        QCOMPARE(client.request(get(target, fields)).header("x-cache"), QByteArray("MISS"));
        QCOMPARE(client.request(get(target, fields)).header("x-cache"), QByteArray("HIT"));
        QCOMPARE(client.request(get("/r/logother/about.json", fields)).status, 200);
        QCOMPARE(client.request(httpRequest("POST", "/api/comment", fields, "thing_id=t3_q&text=FORMSECRET")).status, 200);

        QVERIFY2(daemon.waitForOutput(QRegularExpression(QStringLiteral("POST \\S+/api/comment")), 3000).hasMatch(),
                 qPrintable(daemon.describe()));
        QTest::qWait(200); // anything printed twice would show by now
        QStringList logsub, other, post;
        for (const QString &line : daemon.lines()) {
            if (line.contains(u"/r/logsub/hot.json"))
                logsub << line;
            if (line.contains(u"/r/logother/about.json"))
                other << line;
            if (line.contains(u"/api/comment"))
                post << line;
        }
        QCOMPARE(logsub.size(), 2);
        QCOMPARE(other.size(), 1);
        QCOMPARE(post.size(), 1);
        const QRegularExpression missLine(QStringLiteral(R"((^|: )GET http://127\.0\.0\.1:\d+/r/logsub/hot\.json\S* 200 MISS wait=\d+ms total=\d+ms$)"));
        const QRegularExpression hitLine(QStringLiteral(R"((^|: )HIT GET http://127\.0\.0\.1:\d+/r/logsub/hot\.json\S* 200 HIT )"));
        QVERIFY2(missLine.match(logsub[0]).hasMatch(), qPrintable(logsub[0]));
        QVERIFY2(hitLine.match(logsub[1]).hasMatch(), qPrintable(logsub[1]));
        QVERIFY2(!other[0].contains(u"HIT"), qPrintable(other[0]));
        QVERIFY2(post[0].contains(u" BYPASS "), qPrintable(post[0]));
        QVERIFY(logsub[0].contains(u"limit=5"));

        const QString all = daemon.standardOutput() + daemon.standardError();
        for (const QString &secret : {QString::fromLatin1(proxyToken), userToken, QStringLiteral("COOKIESECRET"),
                                      QStringLiteral("QUERYSECRET1"), QStringLiteral("QUERYSECRET2"),
                                      QStringLiteral("QUERYSECRET3"), QStringLiteral("FORMSECRET")})
            QVERIFY2(!all.contains(secret), qPrintable(secret + QStringLiteral(" in the output:\n") + all));
        QVERIFY2(!all.contains(u"Authorization: bearer", Qt::CaseInsensitive), qPrintable(all));
        QVERIFY(daemon.stop());
    }

    void noRequestLinesByDefault()
    {
        ProcessFixture daemon;
        QVERIFY2(startDaemon(daemon, baseArgs()), qPrintable(daemon.describe()));
        QCOMPARE(fetch(daemon.port(), get("/r/quiet/about.json")).status, 200);
        QVERIFY(daemon.stop());
        for (const QString &line : daemon.lines())
            QVERIFY2(!line.contains(u"/r/quiet/"), qPrintable(line));
    }
};

QTEST_GUILESS_MAIN(TestDaemonControl)
#include "tst_daemon_control.moc"
