#pragma once
#include "prawmp/HttpHeaders.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QMap>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QUrl>

#include "prawmp/Response.h"

#include <algorithm>

class QTcpServer;
class QTcpSocket;

namespace prawmp {
class HttpConnection;
struct IncomingRequest;
struct Response;
}

namespace prawmp::test {

// What FakeReddit does instead of answering normally.
enum class Fault {
    None,
    Drop,        // close the connection, no answer at all
    ServerError, // a 500 JSON answer (with the rate-limit headers)
    Hang,        // never answer; the connection stays open until the peer leaves
    Garbage,     // bytes that are not HTTP, then close
    Partial,     // a valid head with Content-Length, half the body, then close
};
// "drop", "500", "hang", "garbage", "partial" ("" for None).
QByteArray faultName(Fault fault);
// Accepts the names above (and "servererror"); Fault::None when unknown.
Fault faultFromName(QByteArrayView name);

// How X-Ratelimit-Reset rounds the seconds left in the window (Reddit does
// not document it; the limiter must work under each).
enum class ResetConvention {
    Down,       // floor: 0..W-1 (the fake's historical behaviour)
    Up,         // ceil: 1..W (Reddit's r2/lib/ratelimit.py: end - int(now))
    DownNever0, // floor, but never 0: 1..W-1
};
// "down", "up", "down-never-0".
QByteArray resetConventionName(ResetConvention convention);
// Accepts the names above; false when unknown.
bool resetConventionFromName(QByteArrayView name, ResetConvention *convention);
// X-Ratelimit-Reset for `secondsLeft` in (0, W] under `convention`.
int resetSeconds(double secondsLeft, ResetConvention convention);

struct FakeRedditOptions
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 0;            // 0: any free port
    bool alsoIpv6 = false;       // also listen on ::1, same port (best effort)
    int budget = 0;              // requests per window; <= 0: unlimited
    double windowSeconds = 600;  // Reddit's window is 10 minutes
    int latencyMs = 0;           // added before every answer (not control paths)
    ResetConvention resetConvention = ResetConvention::Down;
    // Answers overtake each other: each waits a further random 0..jitterMs.
    int jitterMs = 0;
    // Answers all at once: every answer is held until the oldest held one
    // has waited holdMs, then all held answers are released together.
    int holdMs = 0;
    // Count the budget per OAuth client id, as Reddit does since 2023: one
    // window per client id for the bearer tokens it issued and for token
    // requests (by their Basic auth), and one anonymous bucket for the rest.
    // Off: one budget for everything.
    bool perClientId = false;
};

// One request FakeReddit received (control paths /__* are not recorded).
struct RequestRecord
{
    quint64 id = 0;             // 1, 2, 3... over the server's life (survives clearLog)
    qint64 arrivalMs = 0;       // since the server started listening
    qint64 arrivalEpochMs = 0;  // QDateTime::currentMSecsSinceEpoch() at arrival
    quint64 connectionId = 0;   // which TCP connection carried it (1, 2, ...)
    QByteArray method;
    QByteArray target;          // path with query, as requested ("/r/x/hot.json?limit=5")
    QByteArray path;            // without the query
    HttpHeaders headers;
    qsizetype bodySize = 0;
    qint64 window = -1;         // budget window it was counted in
    QString bucket;             // whose budget: "app:ID", "anonymous"; "" with one budget
    bool rejected = false;      // over budget: answered 429
    Fault fault = Fault::None;
    int status = 0;             // status written; 0 while pending or when none was (drop, hang, garbage)
    qint64 answeredMs = -1;     // since start; -1 while pending or never

    QJsonObject toJson() const;
    static RequestRecord fromJson(const QJsonObject &object);
};

// Per-window view of a request log: what tests assert "no window over budget" with.
struct WindowStats
{
    QMap<qint64, int> requestsPerWindow; // every recorded request, 429s included
    QMap<qint64, int> rejectedPerWindow; // the 429s
    int total = 0;
    int maxPerWindow = 0;
    qint64 busiestWindow = -1;
    int tooManyRequests = 0;             // answers with status 429

    // No 429 was needed and no window saw more than `budget` requests.
    bool withinBudget(int budget) const
    {
        return tooManyRequests == 0 && (budget <= 0 || maxPerWindow <= budget);
    }
    QString describe() const; // "window 3: 12, window 4: 10, 429s: 0" for failure messages
    // Empty when there were at least `minWindows` windows, no 429, none over
    // `budget`, and every full window (all but the first and the last,
    // which the load only partly covers) used at least `share` of it;
    // otherwise what failed, for the test's message.
    QString saturationShortfall(int budget, double share, int minWindows = 4) const;
};
WindowStats computeWindowStats(const QList<RequestRecord> &log);
// Same from the JSON of GET /__log (a fake-reddit process).
WindowStats computeWindowStats(const QJsonArray &log);

// A loopback stand-in for Reddit's API: the budget window with its
// X-Ratelimit-* headers and 429s, deterministic JSON endpoints, OAuth token
// grants, fault injection and a full request log, so that tests, the demo
// and the benchmarks can prove what the daemon sends upstream. Owned by the
// test (stack or parent); closes its connections when destroyed.
//
// Endpoints (".json" suffix optional where Reddit allows it):
//   GET  /r/SUB/hot.json?limit=N&after=t3_X   Listing of N (25, max 100) t3 items, paged
//   GET  /r/SUB/new.json                      same, other items
//   GET  /r/SUB/about.json                    t5 subreddit
//   GET  /api/v1/me                           {"name": token's user}; 401 without a known token
//   POST /api/v1/access_token                 Basic auth + grant_type=password|client_credentials
//   POST /api/v1/revoke_token                 204 (token=... form field forgets it)
//   POST /api/comment                         thing_id, text; bearer of a user token
//   GET  /redirect[?to=URL]                   302, Location: URL (default /r/redirected/hot.json)
//   anything else                             404 JSON
// GET answers (200/302) carry a per-target serial: "serial" in the JSON and
// X-Fake-Serial header; 1 the first time that exact path+query is served.
// Listing and about bodies also carry "sub", "query" and "user" (token's user or null).
// Query parameters for any path: __fault=drop|500|hang|garbage|partial, __delay_ms=N.
// X-Ratelimit-Reset is rounded per options().resetConvention; answers may
// overtake each other (jitterMs) or be released in batches (holdMs), after
// latencyMs (or __delay_ms).
// Rate-limit headers are sent on every counted answer while budget > 0.
//
// Control paths (never counted or recorded):
//   GET  /__log        JSON array of RequestRecord::toJson()
//   GET  /__stats      budget, window_seconds, current window usage, per-window counts, 429s
//   POST /__reset      clears the log (?serials=1 also the serials, ?budget=1 restarts the windows)
//   POST /__config     ?budget=B&window=W&latency_ms=L&jitter_ms=J&hold_ms=H&reset=down|up|down-never-0
//                      (any subset; budget/window restart the windows)
//   POST /__fault      ?kind=drop|500|hang|garbage|partial|none&count=K (count -1: until reset)
class FakeReddit : public QObject
{
    Q_OBJECT
public:
    explicit FakeReddit(QObject *parent = nullptr);
    explicit FakeReddit(const FakeRedditOptions &options, QObject *parent = nullptr);
    ~FakeReddit() override;

    // Listens on options().address/port. Starts the window clock.
    bool listen();
    bool listen(const QHostAddress &address, quint16 port = 0);
    bool isListening() const;
    bool isListeningIpv6() const;
    QString errorString() const;
    quint16 port() const;
    QHostAddress address() const;
    QUrl baseUrl() const; // http://127.0.0.1:PORT
    QUrl url(const QString &pathAndQuery) const;
    const FakeRedditOptions &options() const { return m_options; }

    // Budget: B requests per W seconds (B <= 0: unlimited). Restarts the
    // window clock (window 0 begins now) and the current window's usage.
    void setBudget(int budget, double windowSeconds);
    int budget() const { return m_options.budget; }
    double windowSeconds() const { return m_options.windowSeconds; }
    qint64 currentWindow() const;
    int usedInCurrentWindow() const;
    double secondsToWindowEnd() const;

    void setLatencyMs(int ms) { m_options.latencyMs = ms; }
    int latencyMs() const { return m_options.latencyMs; }
    void setResetConvention(ResetConvention convention) { m_options.resetConvention = convention; }
    void setJitterMs(int ms) { m_options.jitterMs = std::max(0, ms); }
    void setHoldMs(int ms) { m_options.holdMs = std::max(0, ms); }

    // The next `count` recorded requests get `fault` (count < 0: until
    // clearFault()). A request's own ?__fault=... wins and does not use one up.
    void setFault(Fault fault, int count = 1);
    void clearFault() { setFault(Fault::None, 0); }
    Fault pendingFault() const { return m_fault; }
    int pendingFaultCount() const { return m_faultCount; }

    // OAuth. With no client registered any non-empty client id (and any
    // secret) is accepted; with no user registered any username with a
    // non-empty password is, except the password "wrong".
    void addClient(const QString &clientId, const QString &secret);
    void addUser(const QString &name, const QString &password);
    // Issues a bearer token directly (user empty: application-only token).
    QString issueToken(const QString &user);
    bool isValidToken(const QString &token) const { return m_tokens.contains(token); }
    QString userForToken(const QString &token) const { return m_tokens.value(token); }

    // The request log.
    QList<RequestRecord> log() const { return m_log; }
    int requestCount() const { return int(m_log.size()); }
    // Recorded requests whose path (no query) is `path`.
    int pathCount(QByteArrayView path) const;
    // Recorded requests whose path with query is exactly `target`.
    int targetCount(QByteArrayView target) const;
    QHash<QByteArray, int> pathCounts() const;
    QMap<qint64, int> countsPerWindow() const { return windowStats().requestsPerWindow; }
    int tooManyRequestsCount() const { return windowStats().tooManyRequests; }
    WindowStats windowStats() const { return computeWindowStats(m_log); }
    // The same for the requests counted in one bucket (perClientId mode).
    WindowStats windowStats(const QString &bucket) const;
    void setPerClientId(bool on) { m_options.perClientId = on; }
    QJsonArray logJson() const;
    QJsonObject statsJson() const;
    void clearLog();
    // How many times that exact path+query has been served (its last serial).
    int servedCount(QByteArrayView target) const { return m_serials.value(target.toByteArray()); }
    void resetSerials() { m_serials.clear(); }

    // Open TCP connections (hanging ones included).
    int connectionCount() const { return int(m_connections.size()); }

signals:
    // A request arrived and was recorded (before any latency or answer).
    void requestReceived(const prawmp::test::RequestRecord &record);
    // Its fate was decided: answered (status set), faulted or dropped.
    // Not emitted for Hang.
    void requestFinished(const prawmp::test::RequestRecord &record);

private:
    void onNewConnection(QTcpServer *server);
    void onRequest(HttpConnection *connection, const IncomingRequest &request);
    void handleControl(HttpConnection *connection, const IncomingRequest &request,
                       const QUrl &url);
    void deliver(HttpConnection *connection, quint64 sequence, quint64 recordId,
                 const Response &response, Fault fault);
    // Answers wait latency + jitter, then the hold (if any), then deliver().
    void schedule(HttpConnection *connection, quint64 sequence, quint64 recordId,
                  const Response &response, Fault fault, int delayMs);
    void releaseHeld();
    Response route(const IncomingRequest &request, const QUrl &url, const QByteArray &target);
    Response listing(const QString &sub, const QString &kind, const QUrl &url,
                     const QByteArray &target, const QString &user);
    Response about(const QString &sub, const QByteArray &target);
    Response me(const QString &token, const QByteArray &target);
    Response accessToken(const IncomingRequest &request);
    Response revokeToken(const IncomingRequest &request);
    Response comment(const IncomingRequest &request, const QString &token);
    Response redirect(const QUrl &url, const QByteArray &target);
    RequestRecord *recordById(quint64 id);
    int nextSerial(const QByteArray &target);

    FakeRedditOptions m_options;
    QPointer<QTcpServer> m_server;
    QPointer<QTcpServer> m_server6;
    QString m_errorString;
    QElapsedTimer m_clock;      // since listen()
    qint64 m_windowEpochMs = 0; // on m_clock: start of window 0

    // Budget state of the current window.
    qint64 m_window = 0;
    int m_used = 0;
    struct Bucket
    {
        qint64 window = 0;
        int used = 0;
    };
    QHash<QString, Bucket> m_buckets; // perClientId mode
    QString bucketOf(const IncomingRequest &request) const;

    Fault m_fault = Fault::None;
    int m_faultCount = 0;

    struct HeldAnswer
    {
        QPointer<HttpConnection> connection;
        quint64 sequence = 0;
        quint64 recordId = 0;
        Response response;
        Fault fault = Fault::None;
    };
    QList<HeldAnswer> m_held;
    bool m_releaseScheduled = false;

    QHash<QString, QString> m_clients; // id -> secret
    QHash<QString, QString> m_users;   // name -> password
    QHash<QString, QString> m_tokens;  // token -> user ("" for app-only)
    QHash<QString, QString> m_tokenClient; // token -> client id that got it
    quint64 m_tokenCounter = 0;
    quint64 m_commentCounter = 0;

    QHash<QByteArray, int> m_serials;
    QList<RequestRecord> m_log;
    quint64 m_nextRecordId = 1;
    quint64 m_nextConnectionId = 1;

    // Raw sockets kept for Garbage/Partial, which bypass HttpConnection.
    QHash<HttpConnection *, QPointer<QTcpSocket>> m_connections;
    QHash<HttpConnection *, quint64> m_connectionIds;
};

} // namespace prawmp::test

Q_DECLARE_METATYPE(prawmp::test::RequestRecord)
