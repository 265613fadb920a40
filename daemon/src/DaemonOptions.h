#pragma once
#include "HttpServing.h"

#include "prawmp/RateLimiter.h"
#include "prawmp/RequestPipeline.h"

#include <QCommandLineParser>
#include <QHash>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <memory>

namespace prawmp {

// One `--route PREFIX=URL`: requests whose path starts with `prefix` go to
// `target` (the router picks the longest matching prefix).
struct RouteSpec
{
    QString prefix; // starts with '/'
    QUrl target;    // http(s)://host[:port][/path]

    bool operator==(const RouteSpec &) const = default;
};

// Everything `praw-multiprocess` can be told, with the contract defaults.
// Plain data: built by DaemonOptionsParser, read by main() and the server.
struct DaemonOptions
{
    // Listening
    QString addr = QStringLiteral("localhost");
    quint16 port = 10101;            // 0: any free port
    int maxClients = 4096;           // concurrent connections; more get 503
    // Addition: serving threads, which hold every client connection and
    // answer cache hits on their own. Default: one per core; 0 is taken as
    // 1 (it used to mean serving on the main event loop, which no longer
    // serves connections).
    int threads = defaultThreads();

    // Routing
    QUrl upstream;                   // empty: the default Reddit routes
    QList<RouteSpec> routes;         // in the order given
    QStringList allowHosts;          // lower-case host names for absolute-form requests

    // Rate limiting
    RateMode rateMode = RateMode::Adaptive;
    double delaySeconds = 2.0;
    double burstFraction = 0.5;      // addition: share of a window's budget that may leave at once
    double maxQueueWaitSeconds = -1; // negative: no bound (X-Mp-Max-Wait still applies)
    AppIdentities::RateKey rateKey = AppIdentities::RateKey::App;
    QMap<QString, QString> appLabels; // client id -> name shown
    QString stateDir = defaultStateDir(); // empty: nothing kept across restarts

    // Cache and upstream
    double cacheTtlSeconds = 30.0;
    qint64 cacheMaxBytes = 256ll * 1024 * 1024;
    double upstreamTimeoutSeconds = 45.0;

    // Client connections (additions, see HttpLimits)
    double headerTimeoutSeconds = 10.0;  // request headers not complete in time -> 408
    double idleTimeoutSeconds = 75.0;    // idle keep-alive connection -> closed
    qint64 maxBodyBytes = 32ll * 1024 * 1024; // -> 413

    // Access
    QString authToken;               // never printed; see describe()
    bool insecure = false;
    // TLS listener (addition): PEM certificate chain and its unencrypted
    // private key; both or neither. Absolute paths.
    QString tlsCertificateFile;
    QString tlsKeyFile;

    // Distributed mode
    QString redis;                   // redis://[[user]:password@]host[:port][/db]; empty: local only
    QString redisPrefix = QStringLiteral("prawmp:");

    // Misc
    QString configFile;              // absolute path, empty if none
    int logRequests = 0;             // 0 none, 1 request lines, 2 with bodies

    // QThread::idealThreadCount(), at least 1.
    static int defaultThreads();
    static QString defaultStateDir();

    PipelineConfig pipelineConfig() const;
    HttpLimits httpLimits() const;

    // The contract's access rule: a non-loopback listening address needs
    // an auth token or --insecure. Returns an empty string when satisfied.
    QString accessError() const;
    bool listensOnLoopbackOnly() const { return isLoopbackAddress(addr); }
    bool usesTls() const { return !tlsCertificateFile.isEmpty(); }

    // The options as "key = value" lines for logs: the auth token and the
    // Redis password are redacted.
    QString describe() const;
    // The Redis URL with its password (if any) replaced by "<redacted>".
    QString redactedRedis() const;

    // Names of the options that differ between `a` and `b` and cannot be
    // applied to a running daemon (listening address, port, redis...).
    static QStringList restartRequiredChanges(const DaemonOptions &a, const DaemonOptions &b);

    // localhost (and *.localhost, ip6-localhost...), 127.0.0.0/8, ::1,
    // ::ffff:127.x. Other names are not resolved and count as non-loopback.
    static bool isLoopbackAddress(const QString &addr);
    // "64M", "1G", "512k", "1048576", "2GiB" -> bytes (binary multiples).
    static bool parseByteSize(const QString &text, qint64 *bytes);

    bool operator==(const DaemonOptions &) const = default;
};

// What the command line asked for.
enum class DaemonAction { Run, ShowHelp, ShowVersion };

// The outcome of parsing: options, or an error message meant for the user
// (one line, never containing the auth token).
struct DaemonOptionsResult
{
    DaemonOptions options;
    DaemonAction action = DaemonAction::Run;
    QString error;

    bool ok() const { return error.isEmpty(); }
};

// Command line + optional INI config file -> DaemonOptions.
// Precedence: defaults < config file < command line. For the repeatable
// options (--route, --allow-host), a list given on the command line
// replaces the file's list. Keeps what the command line said so that
// reload() can re-read the file under the same overrides (SIGHUP).
class DaemonOptionsParser
{
public:
    DaemonOptionsParser();
    ~DaemonOptionsParser();
    DaemonOptionsParser(const DaemonOptionsParser &) = delete;
    DaemonOptionsParser &operator=(const DaemonOptionsParser &) = delete;

    // `arguments` includes the program name first, as QCoreApplication::arguments().
    DaemonOptionsResult parse(const QStringList &arguments);
    // Re-reads the config file given to the last successful parse() and
    // applies that command line again on top. Without a config file it
    // returns the same options. On error the caller keeps its options.
    DaemonOptionsResult reload() const;

    QString helpText() const;
    QString versionText() const;
    // Long names of every option (without "--"), in help order.
    QStringList optionNames() const;
    QCommandLineParser &commandLineParser();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
