#include "DaemonOptions.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QRegularExpression>
#include <QSet>
#include <QSettings>
#include <QTemporaryFile>
#include <QTextStream>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#ifndef PRAWMP_VERSION
#  define PRAWMP_VERSION "0.0.0"
#endif

namespace prawmp {

using namespace Qt::Literals::StringLiterals;

namespace {

const QString kRedacted = QStringLiteral("<redacted>");

QString quoted(const QString &text)
{
    return QLatin1Char('\'') + text + QLatin1Char('\'');
}

bool parseNumber(const QString &text, double *value)
{
    bool ok = false;
    const double v = text.trimmed().toDouble(&ok);
    if (!ok || !std::isfinite(v))
        return false;
    *value = v;
    return true;
}

// Seconds: a finite number >= 0 (or > 0 when `positive`).
QString parseSeconds(const QString &text, double *value, bool positive)
{
    double v = 0;
    if (!parseNumber(text, &v))
        return QStringLiteral("%1 is not a number of seconds").arg(quoted(text));
    if (v < 0)
        return QStringLiteral("%1 is negative").arg(quoted(text));
    if (positive && v == 0)
        return QStringLiteral("must be greater than 0");
    *value = v;
    return {};
}

QString parseInteger(const QString &text, qint64 min, qint64 max, qint64 *value)
{
    bool ok = false;
    const qint64 v = text.trimmed().toLongLong(&ok, 10);
    if (!ok)
        return QStringLiteral("%1 is not an integer").arg(quoted(text));
    if (v < min || v > max)
        return QStringLiteral("%1 is out of range (%2-%3)").arg(quoted(text)).arg(min).arg(max);
    *value = v;
    return {};
}

QString parseBool(const QString &text, bool *value)
{
    const QString t = text.trimmed().toLower();
    if (t == u"true" || t == u"1" || t == u"yes" || t == u"on") {
        *value = true;
        return {};
    }
    if (t == u"false" || t == u"0" || t == u"no" || t == u"off") {
        *value = false;
        return {};
    }
    return QStringLiteral("%1 is not a boolean (true/false)").arg(quoted(text));
}

// An upstream or route target: http(s)://host[:port][/path], no credentials,
// query or fragment (they would be logged and shared by every client).
QString parseUpstreamUrl(const QString &text, QUrl *url)
{
    const QUrl u(text.trimmed(), QUrl::StrictMode);
    const QString scheme = u.scheme().toLower();
    if (!u.isValid() || (scheme != u"http" && scheme != u"https") || u.host().isEmpty())
        return QStringLiteral("%1 is not an http:// or https:// URL with a host").arg(quoted(text));
    if (!u.userInfo().isEmpty() || u.hasQuery() || u.hasFragment())
        return QStringLiteral("%1: an upstream URL takes no user info, query or fragment").arg(quoted(text));
    *url = u;
    return {};
}

QString parseRoute(const QString &text, RouteSpec *route)
{
    const qsizetype eq = text.indexOf(QLatin1Char('='));
    if (eq < 0)
        return QStringLiteral("%1 is not PREFIX=URL").arg(quoted(text));
    const QString prefix = text.left(eq).trimmed();
    if (!prefix.startsWith(QLatin1Char('/')))
        return QStringLiteral("%1: the prefix must start with '/'").arg(quoted(text));
    QUrl target;
    if (QString error = parseUpstreamUrl(text.mid(eq + 1), &target); !error.isEmpty())
        return error;
    *route = {prefix, target};
    return {};
}

QString parseHost(const QString &text, QString *host)
{
    static const QRegularExpression name(
        QStringLiteral("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$"));
    QString h = text.trimmed().toLower();
    if (h.endsWith(QLatin1Char('.')))
        h.chop(1);
    if (h.startsWith(QLatin1Char('[')) && h.endsWith(QLatin1Char(']')))
        h = h.mid(1, h.size() - 2);
    if (h.contains(QStringLiteral("://")))
        return QStringLiteral("%1: give a host name, not a URL").arg(quoted(text));
    if (!QHostAddress().setAddress(h) && !name.match(h).hasMatch())
        return QStringLiteral("%1 is not a host name").arg(quoted(text));
    *host = h;
    return {};
}

QString parseRedisUrl(const QString &text, QString *redis)
{
    const QString t = text.trimmed();
    if (t.isEmpty()) { // lets a command line turn off the file's redis
        redis->clear();
        return {};
    }
    const QUrl u(t, QUrl::StrictMode);
    bool dbOk = true;
    const QString path = u.path();
    if (!path.isEmpty() && path != u"/") {
        const int db = path.mid(1).toInt(&dbOk);
        dbOk = dbOk && db >= 0;
    }
    // The text may hold a password: never echo it.
    if (!u.isValid() || u.scheme().toLower() != u"redis" || u.host().isEmpty() || !dbOk
        || u.hasQuery() || u.hasFragment())
        return QStringLiteral("not a redis://[:password@]host[:port][/db] URL");
    *redis = t;
    return {};
}

QString parseToken(const QString &text, QString *token)
{
    if (text.isEmpty())
        return QStringLiteral("must not be empty");
    for (const QChar c : text) {
        if (c.unicode() <= 0x20 || c.unicode() >= 0x7f)
            return QStringLiteral("must be printable ASCII without spaces");
    }
    *token = text;
    return {};
}

// A file named by an option: kept absolute, so that a reload reads the same
// file; whether it can be read is checked where it is used.
QString parseFilePath(const QString &text, QString *path)
{
    const QString t = text.trimmed();
    if (t.isEmpty()) { // lets a command line turn off the file's setting
        path->clear();
        return {};
    }
    *path = QFileInfo(t).absoluteFilePath();
    return {};
}

using Apply = std::function<QString(DaemonOptions &, const QStringList &)>;

// One option: its command-line form, its config-file key (the same name),
// and how a value lands in DaemonOptions.
struct OptionSpec
{
    QString name;
    QString valueName;   // empty: a flag
    QString description; // the default is appended
    QString defaultText;
    bool repeatable = false;
    bool inFile = true;  // may appear as a key in the config file
    QStringList arrayKeys; // element keys of a QSettings array (repeatable only)
    Apply apply;         // scalars get one value, repeatables the whole list
};

template <typename F>
Apply scalar(F f)
{
    return [f](DaemonOptions &o, const QStringList &values) { return f(o, values.last()); };
}

// An integer option within [lo, hi], stored in `field`.
template <typename T>
Apply integerInto(T DaemonOptions::*field, qint64 lo, qint64 hi)
{
    return scalar([field, lo, hi](DaemonOptions &o, const QString &v) -> QString {
        qint64 n = 0;
        if (QString e = parseInteger(v, lo, hi, &n); !e.isEmpty())
            return e;
        o.*field = T(n);
        return {};
    });
}

// A byte size option (suffixes K, M, G), stored in `field`.
Apply byteSizeInto(qint64 DaemonOptions::*field)
{
    return scalar([field](DaemonOptions &o, const QString &v) -> QString {
        if (!DaemonOptions::parseByteSize(v, &(o.*field)))
            return QStringLiteral("%1 is not a size (e.g. 1048576, 64M, 1G)").arg(quoted(v));
        return {};
    });
}

// A duration option in seconds, stored in `field`.
Apply secondsInto(double DaemonOptions::*field, bool mustBePositive)
{
    return scalar([field, mustBePositive](DaemonOptions &o, const QString &v) {
        return parseSeconds(v, &(o.*field), mustBePositive);
    });
}

QString seconds(double v)
{
    return QString::number(v, 'g', 10);
}

QList<OptionSpec> makeSpecs()
{
    const DaemonOptions def;
    QList<OptionSpec> s;
    s.append({u"addr"_s, u"ADDR"_s,
              u"Address to listen on. Anything but loopback needs --auth-token or --insecure."_s,
              def.addr, false, true, {}, scalar([](DaemonOptions &o, const QString &v) -> QString {
                  const QString a = v.trimmed();
                  if (a.isEmpty() || a.contains(QLatin1Char(' ')))
                      return QStringLiteral("%1 is not an address").arg(quoted(v));
                  o.addr = a;
                  return {};
              })});
    s.append({u"port"_s, u"PORT"_s, u"TCP port to listen on (0: any free port)."_s,
              QString::number(def.port), false, true, {}, integerInto(&DaemonOptions::port, 0, 65535)});
    s.append({u"upstream"_s, u"URL"_s,
              u"Send every route to this URL instead of www.reddit.com / oauth.reddit.com."_s,
              u"Reddit's routes"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  if (v.trimmed().isEmpty()) {
                      o.upstream.clear();
                      return {};
                  }
                  return parseUpstreamUrl(v, &o.upstream);
              })});
    s.append({u"route"_s, u"PREFIX=URL"_s,
              u"Send paths starting with PREFIX to URL (repeatable; longest prefix wins)."_s,
              u"none"_s, true, true, {u"prefix"_s, u"url"_s},
              [](DaemonOptions &o, const QStringList &values) -> QString {
                  QList<RouteSpec> routes;
                  for (const QString &v : values) {
                      RouteSpec r;
                      if (QString e = parseRoute(v, &r); !e.isEmpty())
                          return e;
                      routes.append(r);
                  }
                  o.routes = routes;
                  return {};
              }});
    s.append({u"allow-host"_s, u"HOST"_s,
              u"Also accept absolute-form requests to HOST (repeatable; route targets always are)."_s,
              u"none"_s, true, true, {u"host"_s},
              [](DaemonOptions &o, const QStringList &values) -> QString {
                  QStringList hosts;
                  for (const QString &v : values) {
                      QString h;
                      if (QString e = parseHost(v, &h); !e.isEmpty())
                          return e;
                      if (!hosts.contains(h))
                          hosts.append(h);
                  }
                  o.allowHosts = hosts;
                  return {};
              }});
    s.append({u"delay"_s, u"SECONDS"_s,
              u"Fixed mode: seconds between two upstream requests of one domain; adaptive mode: the pace until the upstream announces its budget."_s,
              seconds(def.delaySeconds), false, true, {},
              secondsInto(&DaemonOptions::delaySeconds, false)});
    s.append({u"rate-mode"_s, u"MODE"_s,
              u"adaptive (follow the X-Ratelimit-* budget) or fixed (one request per --delay)."_s,
              u"adaptive"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  const QString m = v.trimmed().toLower();
                  if (m == u"adaptive")
                      o.rateMode = RateMode::Adaptive;
                  else if (m == u"fixed")
                      o.rateMode = RateMode::Fixed;
                  else
                      return QStringLiteral("%1 is not a rate mode (adaptive or fixed)").arg(quoted(v));
                  return {};
              })});
    s.append({u"rate-key"_s, u"KEY"_s,
              u"app: one budget per upstream host and OAuth app (client id), as Reddit counts; host: one budget per host."_s,
              u"app"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  const QString k = v.trimmed().toLower();
                  if (k == u"app")
                      o.rateKey = AppIdentities::RateKey::App;
                  else if (k == u"host")
                      o.rateKey = AppIdentities::RateKey::Host;
                  else
                      return QStringLiteral("%1 is not a rate key (app or host)").arg(quoted(v));
                  return {};
              })});
    s.append({u"app-label"_s, u"ID=NAME"_s,
              u"Show the app with client id ID as NAME in stats and the dashboard (repeatable)."_s,
              u"none"_s, true, true, {u"id"_s, u"name"_s},
              [](DaemonOptions &o, const QStringList &values) -> QString {
                  QMap<QString, QString> labels;
                  for (const QString &v : values) {
                      const qsizetype eq = v.indexOf(QLatin1Char('='));
                      const QString id = v.left(eq).trimmed();
                      const QString name = v.mid(eq + 1).trimmed();
                      if (eq <= 0 || name.isEmpty())
                          return QStringLiteral("%1 is not ID=NAME").arg(quoted(v));
                      labels.insert(id, name);
                  }
                  o.appLabels = labels;
                  return {};
              }});
    s.append({u"state-dir"_s, u"DIR"_s,
              u"Where the daemon keeps what it learned (which app each token belongs to, as hashes); 'none': nothing kept."_s,
              DaemonOptions::defaultStateDir(), false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  const QString t = v.trimmed();
                  o.stateDir = t.toLower() == u"none" ? QString() : QDir(t).absolutePath();
                  return {};
              })});
    s.append({u"burst"_s, u"FRACTION"_s,
              u"Adaptive mode: share (0-1) of a window's budget that may leave at once."_s,
              seconds(def.burstFraction), false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  double f = 0;
                  if (!parseNumber(v, &f) || f < 0 || f > 1)
                      return QStringLiteral("%1 is not a fraction between 0 and 1").arg(quoted(v));
                  o.burstFraction = f;
                  return {};
              })});
    s.append({u"cache-ttl"_s, u"SECONDS"_s,
              u"How long GET/HEAD responses are cached (0: no caching)."_s,
              seconds(def.cacheTtlSeconds), false, true, {},
              secondsInto(&DaemonOptions::cacheTtlSeconds, false)});
    s.append({u"cache-max-bytes"_s, u"BYTES"_s,
              u"Cache size bound; suffixes K, M, G (binary) accepted."_s, u"256M"_s, false,
              true, {}, byteSizeInto(&DaemonOptions::cacheMaxBytes)});
    s.append({u"upstream-timeout"_s, u"SECONDS"_s,
              u"Give up on an upstream request after this long (504)."_s,
              seconds(def.upstreamTimeoutSeconds), false, true, {},
              secondsInto(&DaemonOptions::upstreamTimeoutSeconds, true)});
    s.append({u"max-clients"_s, u"N"_s,
              u"Most client connections at once; more are answered 503."_s,
              QString::number(def.maxClients), false, true, {},
              integerInto(&DaemonOptions::maxClients, 1, std::numeric_limits<int>::max())});
    s.append({u"threads"_s, u"N"_s,
              u"Serving threads: they hold every client connection and answer cache hits themselves (the default: one per core; 0 is taken as 1)."_s,
              QString::number(def.threads), false, true, {}, integerInto(&DaemonOptions::threads, 0, 256)});
    s.append({u"max-queue-wait"_s, u"SECONDS"_s,
              u"Answer 503 at once when a request would wait longer for the rate limit ('none': no bound; X-Mp-Max-Wait overrides per request)."_s,
              u"none"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  if (v.trimmed().toLower() == u"none") {
                      o.maxQueueWaitSeconds = -1;
                      return {};
                  }
                  return parseSeconds(v, &o.maxQueueWaitSeconds, false);
              })});
    s.append({u"header-timeout"_s, u"SECONDS"_s,
              u"A client must send its request headers within this time (408)."_s,
              seconds(def.headerTimeoutSeconds), false, true, {},
              secondsInto(&DaemonOptions::headerTimeoutSeconds, true)});
    s.append({u"idle-timeout"_s, u"SECONDS"_s,
              u"Close a keep-alive client connection idle for this long."_s,
              seconds(def.idleTimeoutSeconds), false, true, {},
              secondsInto(&DaemonOptions::idleTimeoutSeconds, true)});
    s.append({u"max-body-bytes"_s, u"BYTES"_s,
              u"Largest request body accepted (413); suffixes K, M, G accepted."_s, u"32M"_s,
              false, true, {}, byteSizeInto(&DaemonOptions::maxBodyBytes)});
    s.append({u"auth-token"_s, u"TOKEN"_s,
              u"Clients must send 'Proxy-Authorization: Bearer TOKEN'. Prefer the config file: a command line is visible to other users."_s,
              u"none"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) { return parseToken(v, &o.authToken); })});
    s.append({u"insecure"_s, QString(),
              u"Allow listening on a non-loopback address without --auth-token."_s,
              u"off"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) { return parseBool(v, &o.insecure); })});
    s.append({u"tls-cert"_s, u"FILE"_s,
              u"Speak HTTPS: PEM certificate (chain) of the listener; needs --tls-key."_s,
              u"none"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) { return parseFilePath(v, &o.tlsCertificateFile); })});
    s.append({u"tls-key"_s, u"FILE"_s,
              u"PEM private key (unencrypted) of --tls-cert; keep it readable by the daemon only."_s,
              u"none"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) { return parseFilePath(v, &o.tlsKeyFile); })});
    s.append({u"redis"_s, u"URL"_s,
              u"Share the rate budget and the cache with other daemons through Redis (redis://[:password@]host[:port][/db])."_s,
              u"none"_s, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) { return parseRedisUrl(v, &o.redis); })});
    s.append({u"redis-prefix"_s, u"PREFIX"_s, u"Prefix of every Redis key this daemon uses."_s,
              def.redisPrefix, false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  if (v.isEmpty() || v.contains(QLatin1Char(' ')))
                      return QStringLiteral("%1 is not a key prefix").arg(quoted(v));
                  o.redisPrefix = v;
                  return {};
              })});
    s.append({u"config"_s, u"FILE"_s,
              u"INI file with the same keys as the long options (the command line wins). SIGHUP re-reads it."_s,
              u"none"_s, false, false, {}, {}});
    s.append({u"log-requests"_s, u"LEVEL"_s,
              u"0: no request log, 1: one line per request, 2: with bodies."_s,
              QString::number(def.logRequests), false, true, {},
              scalar([](DaemonOptions &o, const QString &v) -> QString {
                  qint64 l = 0;
                  if (QString e = parseInteger(v, 0, 2, &l); !e.isEmpty())
                      return QStringLiteral("%1 is not 0, 1 or 2").arg(quoted(v));
                  o.logRequests = int(l);
                  return {};
              })});
    return s;
}

const QList<OptionSpec> &specs()
{
    static const QList<OptionSpec> all = makeSpecs();
    return all;
}

const OptionSpec *findSpec(const QString &name)
{
    for (const OptionSpec &s : specs()) {
        if (s.name == name)
            return &s;
    }
    return nullptr;
}

using Values = QHash<QString, QStringList>;

// Lines QSettings would silently drop or merge: malformed lines and
// repeated keys (QSettings keeps only the last, losing routes).
QString checkIniLines(const QString &path, const QByteArray &content)
{
    QTextStream in(content);
    QString section;
    QSet<QString> seen;
    int lineNo = 0;
    while (!in.atEnd()) {
        const QString line = in.readLine().trimmed();
        ++lineNo;
        if (line.isEmpty() || line.startsWith(QLatin1Char(';')) || line.startsWith(QLatin1Char('#')))
            continue;
        if (line.startsWith(QLatin1Char('['))) {
            if (!line.endsWith(QLatin1Char(']')))
                return QStringLiteral("%1:%2: malformed section header").arg(path).arg(lineNo);
            section = line.mid(1, line.size() - 2).trimmed();
            if (section.compare(u"General", Qt::CaseInsensitive) == 0)
                section.clear();
            continue;
        }
        const qsizetype eq = line.indexOf(QLatin1Char('='));
        if (eq <= 0)
            return QStringLiteral("%1:%2: expected KEY=VALUE").arg(path).arg(lineNo);
        const QString key = section + QLatin1Char('/') + line.left(eq).trimmed();
        if (seen.contains(key)) {
            return QStringLiteral("%1:%2: key '%3' given twice (give repeatable keys a comma-separated list)")
                .arg(path).arg(lineNo).arg(line.left(eq).trimmed());
        }
        seen.insert(key);
    }
    return {};
}

// Reads the config file into option name -> values.
QString readConfigFile(const QString &path, Values *values)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return QStringLiteral("cannot read config file %1: %2").arg(path, file.errorString());
    const QByteArray content = file.readAll();
    file.close();
    if (QString e = checkIniLines(path, content); !e.isEmpty())
        return e;

    // QSettings keeps a process-wide cache of parsed files, refreshed only
    // when size or mtime changed: an edit of the same size within one
    // timestamp tick would go unseen on SIGHUP. Parsing a private snapshot
    // of the bytes just checked avoids that (and any edit in between).
    QTemporaryFile snapshot(QDir::tempPath() + u"/prawmp-config-XXXXXX.ini"_s);
    if (!snapshot.open() || snapshot.write(content) != content.size() || !snapshot.flush())
        return QStringLiteral("cannot read config file %1: no temporary space to parse it").arg(path);
    QSettings ini(snapshot.fileName(), QSettings::IniFormat);
    // A FormatError comes from the lines checkIniLines accepts as comments
    // ('#'); everything else it would have reported with a line number.
    if (ini.status() == QSettings::AccessError)
        return QStringLiteral("cannot read config file %1").arg(path);

    QSet<QString> arrays;
    const QStringList keys = ini.allKeys();
    for (const QString &key : keys) {
        const QStringList parts = key.split(QLatin1Char('/'));
        if (std::any_of(parts.begin(), parts.end(),
                        [](const QString &p) { return p.startsWith(QLatin1Char('#')); }))
            continue; // a commented-out line QSettings read as a key
        const OptionSpec *spec = findSpec(parts.first());
        if (!spec || !spec->inFile)
            return QStringLiteral("%1: unknown key '%2'").arg(path, key);
        if (parts.size() == 1) {
            const QVariant v = ini.value(key);
            // QSettings splits a value with commas into a list.
            const QStringList list = v.metaType().id() == QMetaType::QStringList
                ? v.toStringList() : QStringList{v.toString()};
            if (spec->repeatable) {
                for (const QString &item : list) {
                    if (!item.trimmed().isEmpty())
                        (*values)[spec->name].append(item.trimmed());
                }
            } else {
                (*values)[spec->name] = {list.join(QLatin1Char(','))};
            }
            continue;
        }
        // A QSettings array: name/size, name/N/<element key>.
        const bool sizeKey = parts.size() == 2 && parts[1] == u"size";
        bool indexOk = false;
        const bool elementKey = parts.size() == 3 && parts[1].toInt(&indexOk) > 0 && indexOk
            && spec->arrayKeys.contains(parts[2]);
        if (!spec->repeatable || (!sizeKey && !elementKey))
            return QStringLiteral("%1: unknown key '%2'").arg(path, key);
        arrays.insert(spec->name);
    }

    for (const QString &name : std::as_const(arrays)) {
        const OptionSpec *spec = findSpec(name);
        const int size = ini.beginReadArray(name);
        for (int i = 0; i < size; ++i) {
            ini.setArrayIndex(i);
            QString item;
            if (name == u"route") {
                const QString prefix = ini.value(u"prefix"_s).toString().trimmed();
                const QString url = ini.value(u"url"_s).toString().trimmed();
                if (prefix.isEmpty() || url.isEmpty()) {
                    ini.endArray();
                    return QStringLiteral("%1: route/%2 needs both prefix and url").arg(path).arg(i + 1);
                }
                item = prefix + QLatin1Char('=') + url;
            } else {
                item = ini.value(spec->arrayKeys.first()).toString().trimmed();
            }
            if (!item.isEmpty())
                (*values)[name].append(item);
        }
        ini.endArray();
    }
    return {};
}

// Defaults < file < command line; validates everything, then the access rule.
DaemonOptionsResult build(const Values &commandLine, const QString &configFile)
{
    DaemonOptionsResult result;
    Values file;
    if (!configFile.isEmpty()) {
        if (QString e = readConfigFile(configFile, &file); !e.isEmpty()) {
            result.error = e;
            return result;
        }
    }
    DaemonOptions &o = result.options;
    o.configFile = configFile;
    for (const OptionSpec &spec : specs()) {
        if (!spec.apply)
            continue;
        if (const auto it = file.constFind(spec.name); it != file.cend() && !it->isEmpty()) {
            if (QString e = spec.apply(o, *it); !e.isEmpty()) {
                result.error = QStringLiteral("%1: %2: %3").arg(configFile, spec.name, e);
                return result;
            }
        }
        if (const auto it = commandLine.constFind(spec.name); it != commandLine.cend()) {
            if (QString e = spec.apply(o, *it); !e.isEmpty()) {
                result.error = QStringLiteral("--%1: %2").arg(spec.name, e);
                return result;
            }
        }
    }
    if (o.tlsCertificateFile.isEmpty() != o.tlsKeyFile.isEmpty()) {
        result.error = QStringLiteral("--tls-cert and --tls-key go together: give both (a PEM "
                                      "certificate and its private key) or neither");
        return result;
    }
    result.error = o.accessError();
    return result;
}

QString scrub(QString text, const QStringList &secrets)
{
    for (const QString &secret : secrets) {
        if (!secret.isEmpty())
            text.replace(secret, kRedacted);
    }
    return text;
}

// Every word the command line gives as a token, also where a mistake made
// the parser read it otherwise: in `--delay --auth-token SECRET`, SECRET is
// a stray argument to the parser, yet the user meant it as the token.
QStringList tokensOnCommandLine(const QStringList &arguments)
{
    QStringList tokens;
    for (qsizetype i = 0; i < arguments.size(); ++i) {
        if (arguments[i] == u"--auth-token" && i + 1 < arguments.size())
            tokens.append(arguments[i + 1]);
        else if (arguments[i].startsWith(u"--auth-token="))
            tokens.append(arguments[i].mid(13));
    }
    return tokens;
}

} // namespace

// ---- DaemonOptions ---------------------------------------------------------

QString DaemonOptions::defaultStateDir()
{
    // systemd's StateDirectory= (the unit sets it), else the XDG state home.
    const QString systemd = qEnvironmentVariable("STATE_DIRECTORY").section(QLatin1Char(':'), 0, 0);
    if (!systemd.isEmpty())
        return systemd;
    QString base = qEnvironmentVariable("XDG_STATE_HOME");
    if (base.isEmpty())
        base = QDir::homePath() + u"/.local/state"_s;
    return base + u"/praw-multiprocess"_s;
}

int DaemonOptions::defaultThreads()
{
    return std::max(1, QThread::idealThreadCount());
}

PipelineConfig DaemonOptions::pipelineConfig() const
{
    PipelineConfig c;
    c.rate.mode = rateMode;
    c.rate.delaySeconds = delaySeconds;
    c.rate.burstFraction = burstFraction;
    c.cacheTtlSeconds = cacheTtlSeconds;
    c.cacheMaxBytes = cacheMaxBytes;
    c.upstreamTimeoutSeconds = upstreamTimeoutSeconds;
    c.rateKey = rateKey;
    return c;
}

HttpLimits DaemonOptions::httpLimits() const
{
    const auto ms = [](double s) {
        return int(std::min(s * 1000.0, double(std::numeric_limits<int>::max())));
    };
    HttpLimits l;
    l.maxBodyBytes = maxBodyBytes;
    l.headerTimeoutMs = ms(headerTimeoutSeconds);
    l.idleTimeoutMs = ms(idleTimeoutSeconds);
    return l;
}

QString DaemonOptions::accessError() const
{
    if (isLoopbackAddress(addr) || !authToken.isEmpty() || insecure)
        return {};
    return QStringLiteral(
               "refusing to listen on %1, which is not a loopback address, without --auth-token "
               "TOKEN (clients then send 'Proxy-Authorization: Bearer TOKEN'); pass --insecure "
               "to let anyone who can reach the port use it")
        .arg(addr);
}

QString DaemonOptions::redactedRedis() const
{
    const QUrl u(redis);
    if (u.password().isEmpty())
        return redis;
    QString userInfo = u.userName(QUrl::FullyEncoded) + QLatin1Char(':') + kRedacted;
    return u.scheme() + u"://"_s + userInfo + QLatin1Char('@')
        + u.toString(QUrl::RemoveScheme | QUrl::RemoveUserInfo).mid(2);
}

QString DaemonOptions::describe() const
{
    QStringList labelTexts;
    for (auto it = appLabels.cbegin(); it != appLabels.cend(); ++it)
        labelTexts.append(it.key() + QLatin1Char('=') + it.value());
    QStringList routeTexts;
    for (const RouteSpec &r : routes)
        routeTexts.append(r.prefix + QLatin1Char('=') + r.target.toString());
    const auto line = [](const QString &key, const QString &value) {
        return key + u" = "_s + value;
    };
    QStringList l;
    l << line(u"addr"_s, addr) << line(u"port"_s, QString::number(port))
      << line(u"upstream"_s, upstream.isEmpty() ? u"(Reddit's routes)"_s : upstream.toString())
      << line(u"route"_s, routes.isEmpty() ? u"(none)"_s : routeTexts.join(u", "))
      << line(u"allow-host"_s, allowHosts.isEmpty() ? u"(none)"_s : allowHosts.join(u", "))
      << line(u"delay"_s, seconds(delaySeconds))
      << line(u"rate-mode"_s, rateMode == RateMode::Fixed ? u"fixed"_s : u"adaptive"_s)
      << line(u"rate-key"_s, rateKey == AppIdentities::RateKey::Host ? u"host"_s : u"app"_s)
      << line(u"app-label"_s, appLabels.isEmpty() ? u"(none)"_s : labelTexts.join(u", "))
      << line(u"state-dir"_s, stateDir.isEmpty() ? u"(none)"_s : stateDir)
      << line(u"burst"_s, seconds(burstFraction))
      << line(u"cache-ttl"_s, seconds(cacheTtlSeconds))
      << line(u"cache-max-bytes"_s, QString::number(cacheMaxBytes))
      << line(u"upstream-timeout"_s, seconds(upstreamTimeoutSeconds))
      << line(u"max-clients"_s, QString::number(maxClients))
      << line(u"threads"_s, QString::number(threads))
      << line(u"max-queue-wait"_s,
              maxQueueWaitSeconds < 0 ? u"none"_s : seconds(maxQueueWaitSeconds))
      << line(u"header-timeout"_s, seconds(headerTimeoutSeconds))
      << line(u"idle-timeout"_s, seconds(idleTimeoutSeconds))
      << line(u"max-body-bytes"_s, QString::number(maxBodyBytes))
      << line(u"auth-token"_s, authToken.isEmpty() ? u"(none)"_s : kRedacted)
      << line(u"insecure"_s, insecure ? u"true"_s : u"false"_s)
      << line(u"tls-cert"_s, tlsCertificateFile.isEmpty() ? u"(none)"_s : tlsCertificateFile)
      << line(u"tls-key"_s, tlsKeyFile.isEmpty() ? u"(none)"_s : tlsKeyFile)
      << line(u"redis"_s, redis.isEmpty() ? u"(none)"_s : redactedRedis())
      << line(u"redis-prefix"_s, redisPrefix)
      << line(u"config"_s, configFile.isEmpty() ? u"(none)"_s : configFile)
      << line(u"log-requests"_s, QString::number(logRequests));
    return l.join(QLatin1Char('\n'));
}

QStringList DaemonOptions::restartRequiredChanges(const DaemonOptions &a, const DaemonOptions &b)
{
    QStringList changed;
    if (a.addr != b.addr)
        changed << u"addr"_s;
    if (a.port != b.port)
        changed << u"port"_s;
    if (a.redis != b.redis)
        changed << u"redis"_s;
    if (a.redisPrefix != b.redisPrefix)
        changed << u"redis-prefix"_s;
    // Plain HTTP and TLS listeners are different servers. (New files
    // under the same names are taken on SIGHUP: certificate renewal.)
    if (a.usesTls() != b.usesTls())
        changed << u"tls-cert"_s;
    if (a.threads != b.threads)
        changed << u"threads"_s;
    return changed;
}

bool DaemonOptions::isLoopbackAddress(const QString &addr)
{
    QString a = addr.trimmed().toLower();
    if (a.startsWith(QLatin1Char('[')) && a.endsWith(QLatin1Char(']')))
        a = a.mid(1, a.size() - 2);
    if (a.endsWith(QLatin1Char('.')))
        a.chop(1);
    static const QStringList names = {u"localhost"_s, u"localhost.localdomain"_s,
                                      u"localhost6"_s, u"localhost6.localdomain6"_s,
                                      u"ip6-localhost"_s, u"ip6-loopback"_s};
    if (names.contains(a) || a.endsWith(u".localhost")) // RFC 6761
        return true;
    QHostAddress address;
    return address.setAddress(a) && address.isLoopback();
}

bool DaemonOptions::parseByteSize(const QString &text, qint64 *bytes)
{
    static const QRegularExpression re(
        QStringLiteral("^\\s*(\\d+(?:\\.\\d+)?)\\s*(?:([kmgt])(?:i?b)?|b)?\\s*$"),
        QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch m = re.match(text);
    if (!m.hasMatch())
        return false;
    double value = m.captured(1).toDouble();
    const QString unit = m.captured(2).toLower();
    const QString units = u"kmgt"_s;
    if (!unit.isEmpty())
        value *= std::pow(1024.0, double(units.indexOf(unit) + 1));
    if (!std::isfinite(value) || value >= 9.2e18)
        return false;
    *bytes = qint64(std::llround(value));
    return true;
}

// ---- DaemonOptionsParser ---------------------------------------------------

struct DaemonOptionsParser::Private
{
    QCommandLineParser parser;
    Values commandLine;      // of the last successful parse()
    QString configFile;      // absolute
};

DaemonOptionsParser::DaemonOptionsParser()
    : d(std::make_unique<Private>())
{
    d->parser.setApplicationDescription(QStringLiteral(
        "A caching, rate-limiting HTTP/1.1 proxy that many Reddit API clients share."));
    d->parser.addHelpOption();
    d->parser.addVersionOption();
    for (const OptionSpec &s : specs()) {
        const QString text = s.description + QStringLiteral(" (default: %1)").arg(s.defaultText);
        d->parser.addOption(s.valueName.isEmpty() ? QCommandLineOption(s.name, text)
                                                  : QCommandLineOption(s.name, text, s.valueName));
    }
}

DaemonOptionsParser::~DaemonOptionsParser() = default;

DaemonOptionsResult DaemonOptionsParser::parse(const QStringList &arguments)
{
    DaemonOptionsResult result;
    Values commandLine;
    const QStringList givenTokens = tokensOnCommandLine(arguments);
    const auto fail = [&](const QString &message) {
        result.error = scrub(message, givenTokens + commandLine.value(u"auth-token"_s));
        return result;
    };
    if (!d->parser.parse(arguments))
        return fail(d->parser.errorText());
    if (d->parser.isSet(u"help"_s) || d->parser.optionNames().contains(u"help-all"_s)) {
        result.action = DaemonAction::ShowHelp;
        return result;
    }
    if (d->parser.isSet(u"version"_s)) {
        result.action = DaemonAction::ShowVersion;
        return result;
    }
    for (const OptionSpec &s : specs()) {
        if (!d->parser.isSet(s.name))
            continue;
        commandLine[s.name] = s.valueName.isEmpty() ? QStringList{u"true"_s}
                                                    : d->parser.values(s.name);
    }
    if (!d->parser.positionalArguments().isEmpty())
        return fail(QStringLiteral("unexpected argument '%1'")
                        .arg(d->parser.positionalArguments().constFirst()));

    QString configFile;
    if (commandLine.contains(u"config"_s)) {
        const QString given = commandLine.value(u"config"_s).constLast();
        if (given.trimmed().isEmpty())
            return fail(QStringLiteral("--config: no file name given"));
        // Absolute, so that a reload after a chdir reads the same file.
        configFile = QFileInfo(given).absoluteFilePath();
    }
    result = build(commandLine, configFile);
    if (!result.ok())
        return fail(result.error);
    d->commandLine = commandLine;
    d->configFile = configFile;
    return result;
}

DaemonOptionsResult DaemonOptionsParser::reload() const
{
    DaemonOptionsResult result = build(d->commandLine, d->configFile);
    result.error = scrub(result.error, d->commandLine.value(u"auth-token"_s));
    return result;
}

QString DaemonOptionsParser::helpText() const
{
    return d->parser.helpText();
}

QString DaemonOptionsParser::versionText() const
{
    return QStringLiteral("praw-multiprocess %1\n").arg(QStringLiteral(PRAWMP_VERSION));
}

QStringList DaemonOptionsParser::optionNames() const
{
    QStringList names{u"help"_s, u"version"_s};
    for (const OptionSpec &s : specs())
        names.append(s.name);
    return names;
}

QCommandLineParser &DaemonOptionsParser::commandLineParser()
{
    return d->parser;
}

} // namespace prawmp
