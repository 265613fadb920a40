#include "FakeReddit.h"

#include "HttpConnection.h"
#include "prawmp/JsonResponses.h"
#include "prawmp/Response.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUrlQuery>

#include <algorithm>
#include <cmath>

namespace prawmp::test {

namespace {

constexpr int kMaxListingItems = 1000; // Reddit's listings stop at about 1000 items
constexpr qint64 kIdBase = 60466176;    // 36^5: ids have 6 base-36 digits, like Reddit's
constexpr double kCreatedBase = 1700000000.0;


QByteArray toBase36(qint64 n)
{
    return QByteArray::number(n, 36);
}

// Stable across processes (qHash is seeded per process).
qint64 stableHash(const QString &text)
{
    const QByteArray md5 = QCryptographicHash::hash(text.toUtf8(), QCryptographicHash::Md5);
    quint32 v = 0;
    for (int i = 0; i < 4; ++i)
        v = (v << 8) | quint8(md5.at(i));
    return v;
}

// Items of one listing: id = offset + index, so `after` decodes to an index.
qint64 listingOffset(const QString &sub, const QString &kind)
{
    return kIdBase + (stableHash(sub.toLower() + u'/' + kind) % 1'000'000) * kMaxListingItems;
}

Response jsonValueResponse(int status, const QJsonDocument &doc)
{
    Response r;
    r.status = status;
    r.reason = reasonPhrase(status);
    r.headers.set("Content-Type", "application/json; charset=UTF-8");
    r.body = doc.toJson(QJsonDocument::Compact);
    return r;
}

Response json(int status, const QJsonObject &object)
{
    return jsonValueResponse(status, QJsonDocument(object));
}

// Reddit's error shape for 401/403/404/429/500: {"message": "...", "error": N}.
Response redditError(int status)
{
    return json(status, {{"message", QString::fromLatin1(reasonPhrase(status))}, {"error", status}});
}

QString bearerToken(const HttpHeaders &headers)
{
    const QByteArray auth = headers.value("Authorization").trimmed();
    if (!auth.toLower().startsWith("bearer "))
        return {};
    return QString::fromLatin1(auth.mid(7).trimmed());
}

QUrlQuery formBody(const QByteArray &body)
{
    QByteArray copy = body;
    copy.replace('+', ' ');
    return QUrlQuery(QString::fromUtf8(copy));
}

QString formValue(const QUrlQuery &query, const QString &key)
{
    return query.queryItemValue(key, QUrl::FullyDecoded);
}

// The query part of a path+query, as sent ("" when none).
QString queryOf(const QByteArray &target)
{
    const qsizetype q = target.indexOf('?');
    return q < 0 ? QString() : QString::fromUtf8(target.mid(q + 1));
}

QJsonObject headersJson(const HttpHeaders &headers)
{
    QJsonObject object;
    for (const auto &field : headers.fields()) {
        const QString name = QString::fromLatin1(field.first).toLower();
        const QString value = QString::fromLatin1(field.second);
        object.insert(name, object.contains(name) ? object.value(name).toString() + ", " + value
                                                  : value);
    }
    return object;
}

} // namespace

// The time left is in (0, W]; at the window's very first millisecond it is W.
int resetSeconds(double secondsLeft, ResetConvention convention)
{
    switch (convention) {
    case ResetConvention::Up:
        // Reddit: end - int(now), with `end` a whole second: the time left rounded up.
        return std::max(1, int(std::ceil(secondsLeft - 1e-6)));
    case ResetConvention::DownNever0:
        return std::max(1, int(std::floor(secondsLeft - 0.001)));
    case ResetConvention::Down:
        break;
    }
    // W - 1 at the window's first millisecond (599 for a 600 s window).
    return std::max(0, int(std::floor(secondsLeft - 0.001)));
}

QByteArray resetConventionName(ResetConvention convention)
{
    switch (convention) {
    case ResetConvention::Up: return "up";
    case ResetConvention::DownNever0: return "down-never-0";
    case ResetConvention::Down: break;
    }
    return "down";
}

bool resetConventionFromName(QByteArrayView name, ResetConvention *convention)
{
    for (ResetConvention c : {ResetConvention::Down, ResetConvention::Up, ResetConvention::DownNever0}) {
        if (name == resetConventionName(c)) {
            *convention = c;
            return true;
        }
    }
    return false;
}

QByteArray faultName(Fault fault)
{
    switch (fault) {
    case Fault::None: return {};
    case Fault::Drop: return "drop";
    case Fault::ServerError: return "500";
    case Fault::Hang: return "hang";
    case Fault::Garbage: return "garbage";
    case Fault::Partial: return "partial";
    }
    return {};
}

Fault faultFromName(QByteArrayView name)
{
    const QByteArray n = name.toByteArray().toLower();
    if (n == "drop")
        return Fault::Drop;
    if (n == "500" || n == "servererror" || n == "error")
        return Fault::ServerError;
    if (n == "hang")
        return Fault::Hang;
    if (n == "garbage")
        return Fault::Garbage;
    if (n == "partial")
        return Fault::Partial;
    return Fault::None;
}

// --- RequestRecord ---------------------------------------------------------

QJsonObject RequestRecord::toJson() const
{
    QJsonObject o;
    o["id"] = qint64(id);
    o["t_ms"] = arrivalMs;
    o["epoch_ms"] = arrivalEpochMs;
    o["connection"] = qint64(connectionId);
    o["method"] = QString::fromLatin1(method);
    o["target"] = QString::fromUtf8(target);
    o["path"] = QString::fromUtf8(path);
    o["headers"] = headersJson(headers);
    o["body_size"] = qint64(bodySize);
    o["window"] = window;
    o["bucket"] = bucket;
    o["rejected"] = rejected;
    o["fault"] = QString::fromLatin1(faultName(fault));
    o["status"] = status;
    o["answered_ms"] = answeredMs;
    return o;
}

RequestRecord RequestRecord::fromJson(const QJsonObject &o)
{
    RequestRecord r;
    r.id = quint64(o["id"].toInteger());
    r.arrivalMs = o["t_ms"].toInteger();
    r.arrivalEpochMs = o["epoch_ms"].toInteger();
    r.connectionId = quint64(o["connection"].toInteger());
    r.method = o["method"].toString().toLatin1();
    r.target = o["target"].toString().toUtf8();
    r.path = o["path"].toString().toUtf8();
    const QJsonObject headers = o["headers"].toObject();
    for (auto it = headers.begin(); it != headers.end(); ++it)
        r.headers.add(it.key().toLatin1(), it.value().toString().toLatin1());
    r.bodySize = o["body_size"].toInteger();
    r.window = o["window"].toInteger(-1);
    r.bucket = o["bucket"].toString();
    r.rejected = o["rejected"].toBool();
    r.fault = faultFromName(o["fault"].toString().toLatin1());
    r.status = o["status"].toInt();
    r.answeredMs = o["answered_ms"].toInteger(-1);
    return r;
}

// --- WindowStats -----------------------------------------------------------

WindowStats computeWindowStats(const QList<RequestRecord> &log)
{
    WindowStats stats;
    for (const RequestRecord &r : log) {
        ++stats.total;
        const int n = ++stats.requestsPerWindow[r.window];
        if (n > stats.maxPerWindow) {
            stats.maxPerWindow = n;
            stats.busiestWindow = r.window;
        }
        if (r.status == 429) {
            ++stats.tooManyRequests;
            ++stats.rejectedPerWindow[r.window];
        }
    }
    return stats;
}

WindowStats computeWindowStats(const QJsonArray &log)
{
    QList<RequestRecord> records;
    records.reserve(log.size());
    for (const QJsonValue &v : log)
        records.append(RequestRecord::fromJson(v.toObject()));
    return computeWindowStats(records);
}

QString WindowStats::saturationShortfall(int budget, double share, int minWindows) const
{
    if (!withinBudget(budget))
        return QStringLiteral("over budget: ") + describe();
    const QList<qint64> windows = requestsPerWindow.keys();
    if (windows.size() < minWindows)
        return QStringLiteral("fewer than %1 windows: ").arg(minWindows) + describe();
    for (qsizetype i = 1; i + 1 < windows.size(); ++i) {
        const int used = requestsPerWindow.value(windows[i]);
        if (used < share * budget)
            return QStringLiteral("window %1 used %2 of %3: ").arg(windows[i]).arg(used).arg(budget) + describe();
    }
    return {};
}

QString WindowStats::describe() const
{
    QStringList parts;
    for (auto it = requestsPerWindow.begin(); it != requestsPerWindow.end(); ++it)
        parts << QStringLiteral("window %1: %2").arg(it.key()).arg(it.value());
    parts << QStringLiteral("max %1 (window %2)").arg(maxPerWindow).arg(busiestWindow);
    parts << QStringLiteral("429s: %1").arg(tooManyRequests);
    return parts.join(QStringLiteral(", "));
}

// --- FakeReddit ------------------------------------------------------------

FakeReddit::FakeReddit(QObject *parent)
    : FakeReddit(FakeRedditOptions{}, parent)
{
}

FakeReddit::FakeReddit(const FakeRedditOptions &options, QObject *parent)
    : QObject(parent)
    , m_options(options)
{
    qRegisterMetaType<prawmp::test::RequestRecord>();
    m_clock.start();
}

FakeReddit::~FakeReddit()
{
    const auto connections = m_connections.keys();
    m_connections.clear();
    for (HttpConnection *connection : connections) {
        disconnect(connection, nullptr, this, nullptr);
        delete connection;
    }
    delete m_server6;
    delete m_server;
}

bool FakeReddit::listen()
{
    if (m_server)
        return m_server->isListening();
    m_server = new QTcpServer(this);
    if (!m_server->listen(m_options.address, m_options.port)) {
        m_errorString = m_server->errorString();
        delete m_server;
        return false;
    }
    m_options.port = m_server->serverPort();
    connect(m_server, &QTcpServer::newConnection, this, [this] { onNewConnection(m_server); });

    if (m_options.alsoIpv6) {
        m_server6 = new QTcpServer(this);
        if (m_server6->listen(QHostAddress::LocalHostIPv6, m_options.port)) {
            connect(m_server6, &QTcpServer::newConnection, this,
                    [this] { onNewConnection(m_server6); });
        } else {
            delete m_server6; // best effort: the host may have no IPv6
        }
    }
    m_clock.restart();
    m_windowEpochMs = 0;
    m_window = 0;
    m_used = 0;
    return true;
}

bool FakeReddit::listen(const QHostAddress &address, quint16 port)
{
    m_options.address = address;
    m_options.port = port;
    return listen();
}

bool FakeReddit::isListening() const { return m_server && m_server->isListening(); }
bool FakeReddit::isListeningIpv6() const { return m_server6 && m_server6->isListening(); }
QString FakeReddit::errorString() const { return m_errorString; }
quint16 FakeReddit::port() const { return m_server ? m_server->serverPort() : 0; }
QHostAddress FakeReddit::address() const
{
    return m_server ? m_server->serverAddress() : m_options.address;
}

QUrl FakeReddit::baseUrl() const
{
    QUrl url;
    url.setScheme(QStringLiteral("http"));
    const QHostAddress a = address();
    url.setHost(a.isNull() || a == QHostAddress::Any || a == QHostAddress::AnyIPv4
                    ? QStringLiteral("127.0.0.1")
                    : a.toString());
    url.setPort(port());
    url.setPath(QStringLiteral("/"));
    return url;
}

QUrl FakeReddit::url(const QString &pathAndQuery) const
{
    QString base = baseUrl().toString();
    base.chop(1);
    return QUrl(base + pathAndQuery);
}

void FakeReddit::setBudget(int budget, double windowSeconds)
{
    m_options.budget = budget;
    m_options.windowSeconds = windowSeconds > 0 ? windowSeconds : 600;
    m_windowEpochMs = m_clock.elapsed();
    m_window = 0;
    m_used = 0;
    m_buckets.clear();
}

qint64 FakeReddit::currentWindow() const
{
    const double windowMs = m_options.windowSeconds * 1000.0;
    return qint64(std::floor(double(m_clock.elapsed() - m_windowEpochMs) / windowMs));
}

int FakeReddit::usedInCurrentWindow() const
{
    return currentWindow() == m_window ? m_used : 0;
}

double FakeReddit::secondsToWindowEnd() const
{
    const double windowMs = m_options.windowSeconds * 1000.0;
    const double elapsed = double(m_clock.elapsed() - m_windowEpochMs);
    return ((currentWindow() + 1) * windowMs - elapsed) / 1000.0;
}

void FakeReddit::setFault(Fault fault, int count)
{
    m_fault = count == 0 ? Fault::None : fault;
    m_faultCount = fault == Fault::None ? 0 : count;
}

void FakeReddit::addClient(const QString &clientId, const QString &secret)
{
    m_clients.insert(clientId, secret);
}

void FakeReddit::addUser(const QString &name, const QString &password)
{
    m_users.insert(name, password);
}

QString FakeReddit::bucketOf(const IncomingRequest &request) const
{
    const QByteArray auth = request.headers.value("Authorization").trimmed();
    if (auth.toLower().startsWith("basic ")) {
        const QByteArray decoded = QByteArray::fromBase64(auth.mid(6).trimmed());
        const qsizetype colon = decoded.indexOf(':');
        if (colon > 0)
            return QStringLiteral("app:") + QString::fromUtf8(decoded.left(colon));
    }
    if (auth.toLower().startsWith("bearer ")) {
        const QString client = m_tokenClient.value(QString::fromUtf8(auth.mid(7).trimmed()));
        if (!client.isEmpty())
            return QStringLiteral("app:") + client;
    }
    return QStringLiteral("anonymous");
}

WindowStats FakeReddit::windowStats(const QString &bucket) const
{
    QList<RequestRecord> records;
    for (const RequestRecord &r : m_log)
        if (r.bucket == bucket)
            records.append(r);
    return computeWindowStats(records);
}

QString FakeReddit::issueToken(const QString &user)
{
    const QString token = QStringLiteral("fr%1-%2")
                              .arg(++m_tokenCounter)
                              .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    m_tokens.insert(token, user);
    return token;
}

int FakeReddit::pathCount(QByteArrayView path) const
{
    return int(std::count_if(m_log.begin(), m_log.end(),
                             [&](const RequestRecord &r) { return r.path == path; }));
}

int FakeReddit::targetCount(QByteArrayView target) const
{
    return int(std::count_if(m_log.begin(), m_log.end(),
                             [&](const RequestRecord &r) { return r.target == target; }));
}

QHash<QByteArray, int> FakeReddit::pathCounts() const
{
    QHash<QByteArray, int> counts;
    for (const RequestRecord &r : m_log)
        ++counts[r.path];
    return counts;
}

QJsonArray FakeReddit::logJson() const
{
    QJsonArray array;
    for (const RequestRecord &r : m_log)
        array.append(r.toJson());
    return array;
}

QJsonObject FakeReddit::statsJson() const
{
    const WindowStats stats = windowStats();
    QJsonArray windows;
    for (auto it = stats.requestsPerWindow.begin(); it != stats.requestsPerWindow.end(); ++it) {
        windows.append(QJsonObject{{"index", it.key()},
                                   {"requests", it.value()},
                                   {"rejected", stats.rejectedPerWindow.value(it.key())}});
    }
    QJsonObject paths;
    const auto counts = pathCounts();
    for (auto it = counts.begin(); it != counts.end(); ++it)
        paths.insert(QString::fromUtf8(it.key()), it.value());
    const int used = usedInCurrentWindow();
    return QJsonObject{
        {"budget", m_options.budget},
        {"window_seconds", m_options.windowSeconds},
        {"latency_ms", m_options.latencyMs},
        {"current_window", currentWindow()},
        {"used", used},
        {"remaining", m_options.budget > 0 ? std::max(0, m_options.budget - used) : -1},
        {"reset", resetSeconds(secondsToWindowEnd(), m_options.resetConvention)},
        {"reset_convention", QString::fromLatin1(resetConventionName(m_options.resetConvention))},
        {"jitter_ms", m_options.jitterMs},
        {"hold_ms", m_options.holdMs},
        {"total", stats.total},
        {"max_per_window", stats.maxPerWindow},
        {"too_many_requests", stats.tooManyRequests},
        {"windows", windows},
        {"paths", paths},
        {"connections", connectionCount()},
    };
}

void FakeReddit::clearLog()
{
    m_log.clear();
}

RequestRecord *FakeReddit::recordById(quint64 id)
{
    // Ids are consecutive; the log may have been cleared since.
    if (m_log.isEmpty() || id < m_log.first().id)
        return nullptr;
    const qsizetype index = qsizetype(id - m_log.first().id);
    return index < m_log.size() ? &m_log[index] : nullptr;
}

int FakeReddit::nextSerial(const QByteArray &target)
{
    return ++m_serials[target];
}

void FakeReddit::onNewConnection(QTcpServer *server)
{
    while (QTcpSocket *socket = server->nextPendingConnection()) {
        auto *connection = new HttpConnection(socket, HttpLimits{}, this);
        m_connections.insert(connection, socket);
        m_connectionIds.insert(connection, m_nextConnectionId++);
        connect(connection, &HttpConnection::requestReceived, this,
                [this, connection](const IncomingRequest &request) { onRequest(connection, request); });
        connect(connection, &HttpConnection::closed, this, [this, connection] {
            m_connections.remove(connection);
            m_connectionIds.remove(connection);
            connection->deleteLater();
        });
    }
}

void FakeReddit::onRequest(HttpConnection *connection, const IncomingRequest &request)
{
    // Origin-form normally (kept byte for byte: serials are per exact
    // target); a misbehaving proxy may forward absolute-form.
    const bool originForm = request.target.startsWith('/');
    const QUrl url = originForm ? QUrl::fromEncoded("http://fake-reddit" + request.target)
                                : QUrl::fromEncoded(request.target);
    QByteArray target = request.target;
    if (!originForm) {
        target = url.path(QUrl::FullyEncoded).toUtf8();
        if (target.isEmpty())
            target = "/";
        if (url.hasQuery())
            target += '?' + url.query(QUrl::FullyEncoded).toUtf8();
    }
    const QByteArray path = target.left(target.indexOf('?') < 0 ? target.size() : target.indexOf('?'));

    if (path.startsWith("/__")) {
        handleControl(connection, request, url);
        return;
    }

    RequestRecord record;
    record.id = m_nextRecordId++;
    record.arrivalMs = m_clock.elapsed();
    record.arrivalEpochMs = QDateTime::currentMSecsSinceEpoch();
    record.connectionId = m_connectionIds.value(connection);
    record.method = request.method;
    record.target = target;
    record.path = path;
    record.headers = request.headers;
    record.bodySize = request.body.size();

    // The budget window this request falls in (windows are fixed intervals).
    const double windowMs = m_options.windowSeconds * 1000.0;
    const double sinceEpoch = double(record.arrivalMs - m_windowEpochMs);
    record.window = qint64(std::floor(sinceEpoch / windowMs));
    record.bucket = m_options.perClientId ? bucketOf(request) : QString();
    // One budget (m_window/m_used), or one per bucket in perClientId mode.
    qint64 &window = m_options.perClientId ? m_buckets[record.bucket].window : m_window;
    int &used = m_options.perClientId ? m_buckets[record.bucket].used : m_used;
    if (record.window != window) {
        window = record.window;
        used = 0;
    }
    const bool limited = m_options.budget > 0;
    if (limited && used >= m_options.budget)
        record.rejected = true;
    else
        ++used;
    const int usedNow = used;
    const double toEnd = ((record.window + 1) * windowMs - sinceEpoch) / 1000.0;

    const QUrlQuery query(url);
    Fault fault = faultFromName(query.queryItemValue(QStringLiteral("__fault")).toLatin1());
    if (fault == Fault::None && m_fault != Fault::None && m_faultCount != 0) {
        fault = m_fault;
        if (m_faultCount > 0 && --m_faultCount == 0)
            m_fault = Fault::None;
    }
    record.fault = fault;

    Response response;
    if (fault == Fault::ServerError) {
        response = redditError(500);
    } else if (record.rejected) {
        response = redditError(429);
        response.headers.set("Retry-After",
                             QByteArray::number(std::max<qint64>(1, qint64(std::ceil(toEnd)))));
    } else {
        response = route(request, url, target);
    }
    if (limited) {
        const int used = record.rejected ? m_options.budget : usedNow;
        response.headers.set("X-Ratelimit-Used", QByteArray::number(used));
        response.headers.set("X-Ratelimit-Remaining",
                             QByteArray::number(double(m_options.budget - used), 'f', 1));
        response.headers.set("X-Ratelimit-Reset",
                             QByteArray::number(resetSeconds(toEnd, m_options.resetConvention)));
    }

    m_log.append(record);
    emit requestReceived(record);

    bool delayOk = false;
    int delayMs = query.queryItemValue(QStringLiteral("__delay_ms")).toInt(&delayOk);
    if (!delayOk)
        delayMs = m_options.latencyMs;
    schedule(connection, request.sequence, record.id, response, fault, delayMs);
}

void FakeReddit::schedule(HttpConnection *connection, quint64 sequence, quint64 recordId,
                          const Response &response, Fault fault, int delayMs)
{
    if (m_options.jitterMs > 0)
        delayMs += int(QRandomGenerator::global()->bounded(m_options.jitterMs + 1));
    QPointer<HttpConnection> guard(connection);
    const auto release = [=, this] {
        if (!guard)
            return;
        if (m_options.holdMs <= 0) {
            deliver(guard, sequence, recordId, response, fault);
            return;
        }
        m_held.append(HeldAnswer{guard, sequence, recordId, response, fault});
        if (!m_releaseScheduled) {
            m_releaseScheduled = true;
            QTimer::singleShot(m_options.holdMs, this, &FakeReddit::releaseHeld);
        }
    };
    if (delayMs > 0)
        QTimer::singleShot(delayMs, this, release);
    else
        release();
}

void FakeReddit::releaseHeld()
{
    m_releaseScheduled = false;
    const QList<HeldAnswer> held = std::exchange(m_held, {});
    for (const HeldAnswer &answer : held)
        if (answer.connection)
            deliver(answer.connection, answer.sequence, answer.recordId, answer.response, answer.fault);
}

void FakeReddit::deliver(HttpConnection *connection, quint64 sequence, quint64 recordId,
                         const Response &response, Fault fault)
{
    if (!m_connections.contains(connection))
        return;
    QPointer<QTcpSocket> socket = m_connections.value(connection);
    int status = 0;
    switch (fault) {
    case Fault::None:
    case Fault::ServerError:
        status = response.status;
        connection->respond(sequence, response);
        break;
    case Fault::Hang:
        return; // the request stays pending for good
    case Fault::Drop:
        connection->close();
        break;
    case Fault::Garbage:
        if (socket) {
            socket->write(QByteArrayLiteral("\x16\x03\x01 XYZZY this is not HTTP \x00\xff\xfe\r\n"
                                            "<<<garbage>>>\r\n\r\n"));
            socket->disconnectFromHost();
        }
        break;
    case Fault::Partial:
        if (socket) {
            QByteArray head = "HTTP/1.1 " + QByteArray::number(response.status) + ' '
                              + response.reason + "\r\n";
            HttpHeaders headers = response.headers;
            headers.set("Content-Length", QByteArray::number(response.body.size()));
            headers.set("Connection", "close");
            for (const auto &field : headers.fields())
                head += field.first + ": " + field.second + "\r\n";
            head += "\r\n";
            socket->write(head + response.body.left(response.body.size() / 2));
            socket->disconnectFromHost();
            status = response.status;
        }
        break;
    }
    if (RequestRecord *record = recordById(recordId)) {
        record->status = status;
        record->answeredMs = m_clock.elapsed();
        emit requestFinished(*record);
    }
}

void FakeReddit::handleControl(HttpConnection *connection, const IncomingRequest &request,
                               const QUrl &url)
{
    const QString path = url.path();
    const QUrlQuery query(url);
    const bool get = request.method == "GET" || request.method == "HEAD";
    const bool post = request.method == "POST";
    Response response;
    if (path == u"/__log" && get) {
        response = jsonValueResponse(200, QJsonDocument(logJson()));
    } else if (path == u"/__stats" && get) {
        response = json(200, statsJson());
    } else if (path == u"/__reset" && post) {
        const int cleared = requestCount();
        clearLog();
        if (query.queryItemValue(QStringLiteral("serials")) == u"1")
            resetSerials();
        if (query.queryItemValue(QStringLiteral("budget")) == u"1")
            setBudget(m_options.budget, m_options.windowSeconds);
        response = json(200, {{"cleared", cleared}});
    } else if (path == u"/__config" && post) {
        bool ok = false;
        int budget = query.queryItemValue(QStringLiteral("budget")).toInt(&ok);
        if (!ok)
            budget = m_options.budget;
        bool windowOk = false;
        double window = query.queryItemValue(QStringLiteral("window")).toDouble(&windowOk);
        if (windowOk || ok)
            setBudget(budget, windowOk ? window : m_options.windowSeconds);
        const int latency = query.queryItemValue(QStringLiteral("latency_ms")).toInt(&ok);
        if (ok)
            setLatencyMs(latency);
        const int jitter = query.queryItemValue(QStringLiteral("jitter_ms")).toInt(&ok);
        if (ok)
            setJitterMs(jitter);
        const int hold = query.queryItemValue(QStringLiteral("hold_ms")).toInt(&ok);
        if (ok)
            setHoldMs(hold);
        ResetConvention convention;
        if (resetConventionFromName(query.queryItemValue(QStringLiteral("reset")).toLatin1(), &convention))
            setResetConvention(convention);
        response = json(200, statsJson());
    } else if (path == u"/__fault" && post) {
        const QString kind = query.queryItemValue(QStringLiteral("kind"));
        const Fault fault = faultFromName(kind.toLatin1());
        if (fault == Fault::None && !kind.isEmpty() && kind != u"none") {
            response = json(400, {{"error", "bad_fault"}, {"message", "unknown fault " + kind}});
        } else {
            bool ok = false;
            int count = query.queryItemValue(QStringLiteral("count")).toInt(&ok);
            setFault(fault, ok ? count : 1);
            response = json(200, {{"fault", QString::fromLatin1(faultName(m_fault))},
                                  {"count", m_faultCount}});
        }
    } else if (path == u"/__log" || path == u"/__stats" || path == u"/__reset"
               || path == u"/__config" || path == u"/__fault") {
        response = redditError(405);
    } else {
        response = redditError(404);
    }
    connection->respond(request.sequence, response);
}

// --- Reddit's endpoints ----------------------------------------------------

Response FakeReddit::route(const IncomingRequest &request, const QUrl &url, const QByteArray &target)
{
    QString path = url.path();
    if (path.size() > 1 && path.endsWith(u'/'))
        path.chop(1);
    const QByteArray &method = request.method;
    const bool get = method == "GET" || method == "HEAD";
    const QString token = bearerToken(request.headers);

    static const QRegularExpression subPath(
        QStringLiteral("^/r/([A-Za-z0-9_+]+)/(hot|new|about)(\\.json)?$"));
    if (const auto match = subPath.match(path); match.hasMatch() && get) {
        const QString sub = match.captured(1);
        const QString kind = match.captured(2);
        if (kind == u"about")
            return about(sub, target);
        return listing(sub, kind, url, target, m_tokens.value(token));
    }
    if ((path == u"/api/v1/me" || path == u"/api/v1/me.json") && get)
        return me(token, target);
    if (path == u"/api/v1/access_token" && method == "POST")
        return accessToken(request);
    if (path == u"/api/v1/revoke_token" && method == "POST")
        return revokeToken(request);
    if ((path == u"/api/comment" || path == u"/api/comment.json") && method == "POST")
        return comment(request, token);
    if (path == u"/redirect" && get)
        return redirect(url, target);
    return redditError(404);
}

Response FakeReddit::listing(const QString &sub, const QString &kind, const QUrl &url,
                             const QByteArray &target, const QString &user)
{
    const QUrlQuery query(url);
    bool ok = false;
    int limit = query.queryItemValue(QStringLiteral("limit")).toInt(&ok);
    if (!ok)
        limit = 25;
    limit = std::clamp(limit, 1, 100);

    const qint64 offset = listingOffset(sub, kind);
    qint64 first = 0;
    const QString after = query.queryItemValue(QStringLiteral("after"));
    if (!after.isEmpty()) {
        const QString id = after.startsWith(u"t3_") ? after.mid(3) : after;
        const qint64 index = id.toLongLong(&ok, 36) - offset;
        first = ok && index >= 0 && index < kMaxListingItems ? index + 1 : kMaxListingItems;
    }

    QJsonArray children;
    QString lastName;
    const qint64 end = std::min<qint64>(first + limit, kMaxListingItems);
    for (qint64 i = first; i < end; ++i) {
        const QString id = QString::fromLatin1(toBase36(offset + i));
        lastName = QStringLiteral("t3_") + id;
        const QString title = QStringLiteral("%1 post %2 in r/%3").arg(kind).arg(i + 1).arg(sub);
        const QString permalink = QStringLiteral("/r/%1/comments/%2/%1_%3_%4/")
                                      .arg(sub, id, kind).arg(i + 1);
        const int score = int(stableHash(lastName) % 5000);
        QJsonObject data{
            {"id", id},
            {"name", lastName},
            {"title", title},
            {"subreddit", sub},
            {"subreddit_name_prefixed", QStringLiteral("r/") + sub},
            {"subreddit_id", QStringLiteral("t5_") + QString::fromLatin1(toBase36(kIdBase + stableHash(sub.toLower()) % 1'000'000))},
            {"author", QStringLiteral("author_%1").arg(stableHash(lastName) % 997)},
            {"score", score},
            {"ups", score},
            {"num_comments", int(stableHash(id) % 300)},
            {"created_utc", kind == u"new" ? kCreatedBase - double(i) * 60.0
                                            : kCreatedBase - double(i) * 3600.0},
            {"permalink", permalink},
            {"url", QStringLiteral("https://www.reddit.com") + permalink},
            {"selftext", QStringLiteral("Body of %1.").arg(title)},
            {"is_self", true},
            {"over_18", false},
            {"position", int(i)},
        };
        children.append(QJsonObject{{"kind", "t3"}, {"data", data}});
    }
    const bool more = end < kMaxListingItems && !children.isEmpty();
    const int serial = nextSerial(target);
    QJsonObject body{
        {"kind", "Listing"},
        {"data", QJsonObject{{"after", more ? QJsonValue(lastName) : QJsonValue()},
                             {"before", QJsonValue()},
                             {"dist", int(children.size())},
                             {"modhash", ""},
                             {"geo_filter", ""},
                             {"children", children}}},
        {"sub", sub},
        {"query", queryOf(target)},
        {"serial", serial},
        {"user", user.isEmpty() ? QJsonValue() : QJsonValue(user)},
    };
    Response r = json(200, body);
    r.headers.set("X-Fake-Serial", QByteArray::number(serial));
    return r;
}

Response FakeReddit::about(const QString &sub, const QByteArray &target)
{
    const int serial = nextSerial(target);
    const qint64 h = stableHash(sub.toLower());
    Response r = json(200, QJsonObject{
        {"kind", "t5"},
        {"data", QJsonObject{
                     {"display_name", sub},
                     {"display_name_prefixed", QStringLiteral("r/") + sub},
                     {"name", QStringLiteral("t5_") + QString::fromLatin1(toBase36(kIdBase + h % 1'000'000))},
                     {"id", QString::fromLatin1(toBase36(kIdBase + h % 1'000'000))},
                     {"title", QStringLiteral("The %1 community").arg(sub)},
                     {"public_description", QStringLiteral("A fake r/%1 for tests.").arg(sub)},
                     {"subscribers", qint64(h % 10'000'000)},
                     {"created_utc", kCreatedBase - double(h % 100'000'000)},
                     {"url", QStringLiteral("/r/%1/").arg(sub)},
                     {"over18", false},
                     {"subreddit_type", "public"},
                 }},
        {"sub", sub},
        {"query", queryOf(target)},
        {"serial", serial},
    });
    r.headers.set("X-Fake-Serial", QByteArray::number(serial));
    return r;
}

Response FakeReddit::me(const QString &token, const QByteArray &target)
{
    if (token.isEmpty() || !m_tokens.contains(token)) {
        Response r = redditError(401);
        r.headers.set("WWW-Authenticate", R"(Bearer realm="reddit", error="invalid_token")");
        return r;
    }
    const QString user = m_tokens.value(token);
    if (user.isEmpty()) // application-only token: there is no "me"
        return redditError(403);
    const int serial = nextSerial(target);
    Response r = json(200, QJsonObject{
        {"name", user},
        {"id", QString::fromLatin1(toBase36(kIdBase + stableHash(user) % 1'000'000))},
        {"created_utc", kCreatedBase - double(stableHash(user) % 100'000'000)},
        {"link_karma", int(stableHash(user) % 10'000)},
        {"comment_karma", int(stableHash(user + u'c') % 10'000)},
        {"is_employee", false},
        {"has_verified_email", true},
        {"serial", serial},
    });
    r.headers.set("X-Fake-Serial", QByteArray::number(serial));
    return r;
}

Response FakeReddit::accessToken(const IncomingRequest &request)
{
    // HTTP Basic with the client id and secret.
    const QByteArray auth = request.headers.value("Authorization").trimmed();
    QString clientId;
    QString secret;
    if (auth.toLower().startsWith("basic ")) {
        const QString decoded = QString::fromUtf8(QByteArray::fromBase64(auth.mid(6).trimmed()));
        const qsizetype colon = decoded.indexOf(u':');
        if (colon > 0) {
            clientId = decoded.left(colon);
            secret = decoded.mid(colon + 1);
        }
    }
    const bool clientOk = m_clients.isEmpty() ? !clientId.isEmpty()
                                              : m_clients.contains(clientId)
                                                    && m_clients.value(clientId) == secret;
    if (!clientOk)
        return redditError(401);

    const QUrlQuery form = formBody(request.body);
    const QString grant = formValue(form, QStringLiteral("grant_type"));
    QString user;
    if (grant == u"password") {
        user = formValue(form, QStringLiteral("username"));
        const QString password = formValue(form, QStringLiteral("password"));
        if (user.isEmpty() || password.isEmpty())
            return json(400, {{"error", "invalid_request"}});
        const bool passwordOk = m_users.isEmpty() ? password != u"wrong"
                                                  : m_users.contains(user)
                                                        && m_users.value(user) == password;
        if (!passwordOk)
            return json(400, {{"error", "invalid_grant"}});
    } else if (grant != u"client_credentials"
               && grant != u"https://oauth.reddit.com/grants/installed_client") {
        return json(400, {{"error", "unsupported_grant_type"}});
    }
    const QString token = issueToken(user);
    m_tokenClient.insert(token, clientId);
    // The scopes asked for are granted; none asked: all ("*", as Reddit
    // answers a script app's password grant).
    const QString scope = formValue(form, QStringLiteral("scope"));
    return json(200, {{"access_token", token},
                      {"token_type", "bearer"},
                      {"expires_in", 86400},
                      {"scope", scope.isEmpty() ? QStringLiteral("*") : scope}});
}

Response FakeReddit::revokeToken(const IncomingRequest &request)
{
    const QString token = formValue(formBody(request.body), QStringLiteral("token"));
    m_tokens.remove(token);
    Response r;
    r.status = 204;
    r.reason = reasonPhrase(204);
    return r;
}

Response FakeReddit::comment(const IncomingRequest &request, const QString &token)
{
    if (token.isEmpty() || !m_tokens.contains(token) || m_tokens.value(token).isEmpty())
        return redditError(401);
    const QUrlQuery form = formBody(request.body);
    const QString thing = formValue(form, QStringLiteral("thing_id"));
    const QString text = formValue(form, QStringLiteral("text"));
    if (thing.isEmpty()) {
        return json(200, {{"json", QJsonObject{{"errors", QJsonArray{QJsonArray{
                                                   "NO_THING_ID", "that thing was not found",
                                                   "thing_id"}}}}}});
    }
    const quint64 serial = ++m_commentCounter;
    const QString id = QString::fromLatin1(toBase36(kIdBase * 36 + qint64(serial)));
    const QJsonObject data{
        {"id", id},
        {"name", QStringLiteral("t1_") + id},
        {"parent_id", thing},
        {"link_id", thing.startsWith(u"t3_") ? thing : QStringLiteral("t3_unknown")},
        {"body", text},
        {"author", m_tokens.value(token)},
        {"created_utc", double(QDateTime::currentSecsSinceEpoch())},
        {"serial", qint64(serial)},
    };
    return json(200, {{"json", QJsonObject{
                                   {"errors", QJsonArray{}},
                                   {"data", QJsonObject{{"things", QJsonArray{QJsonObject{
                                                                       {"kind", "t1"},
                                                                       {"data", data}}}}}},
                               }}});
}

Response FakeReddit::redirect(const QUrl &url, const QByteArray &target)
{
    QString to = QUrlQuery(url).queryItemValue(QStringLiteral("to"), QUrl::FullyDecoded);
    if (to.isEmpty())
        to = QStringLiteral("/r/redirected/hot.json");
    const int serial = nextSerial(target);
    Response r;
    r.status = 302;
    r.reason = reasonPhrase(302);
    r.headers.set("Location", to.toUtf8());
    r.headers.set("X-Fake-Serial", QByteArray::number(serial));
    return r;
}

} // namespace prawmp::test
