#include "prawmp/AppIdentities.h"

#include "prawmp/Request.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStringList>
#include <QTimeZone>
#include <QUrlQuery>

Q_LOGGING_CATEGORY(lcIdentities, "prawmp.identities")

namespace prawmp {

namespace {

const QString kAppMarker = QStringLiteral(" app:");
const QString kUnidentified = QStringLiteral(" unidentified");

QString sortedScopes(const QString &scopes)
{
    QStringList list = scopes.split(QRegularExpression(QStringLiteral("[\\s,]+")), Qt::SkipEmptyParts);
    list.sort();
    list.removeDuplicates();
    return list.join(QLatin1Char(' '));
}

// A client id as Reddit issues them: letters, digits, '-' and '_'. Anything
// else (a header someone filled with garbage) names no app.
bool plausibleClientId(const QString &id)
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9_-]{1,64}$"));
    return pattern.match(id).hasMatch();
}

} // namespace

AppIdentities::AppIdentities(RateKey key) : m_key(key) {}

void AppIdentities::setRateKey(RateKey key)
{
    QMutexLocker lock(&m_mutex);
    m_key = key;
}

AppIdentities::RateKey AppIdentities::rateKey() const
{
    QMutexLocker lock(&m_mutex);
    return m_key;
}

QByteArray AppIdentities::hashToken(const QByteArray &token)
{
    return QCryptographicHash::hash(token, QCryptographicHash::Sha256).toHex();
}

QString AppIdentities::basicAuthClientId(const QByteArray &authorization)
{
    const QByteArray value = authorization.trimmed();
    if (value.left(6).compare("basic ", Qt::CaseInsensitive) != 0)
        return {};
    const auto decoded = QByteArray::fromBase64Encoding(value.mid(6).trimmed(),
                                                        QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return {};
    const qsizetype colon = decoded.decoded.indexOf(':');
    const QString id = QString::fromUtf8(colon < 0 ? decoded.decoded : decoded.decoded.left(colon));
    return plausibleClientId(id) ? id : QString();
}

QByteArray AppIdentities::bearerToken(const QByteArray &authorization)
{
    const QByteArray value = authorization.trimmed();
    if (value.left(7).compare("bearer ", Qt::CaseInsensitive) != 0)
        return {};
    return value.mid(7).trimmed();
}

QByteArray AppIdentities::tokenHashOf(const HttpHeaders &headers) const
{
    const QByteArray token = bearerToken(headers.value("Authorization"));
    return token.isEmpty() ? QByteArray() : hashToken(token);
}

std::optional<AppIdentities::Identity> AppIdentities::identityOf(const HttpHeaders &headers) const
{
    const QByteArray hash = tokenHashOf(headers);
    if (hash.isEmpty())
        return std::nullopt;
    QMutexLocker lock(&m_mutex);
    const auto it = m_byTokenHash.constFind(hash);
    if (it == m_byTokenHash.cend())
        return std::nullopt;
    if (it->expires.isValid() && it->expires < QDateTime::currentDateTimeUtc())
        return std::nullopt;
    return *it;
}

QString AppIdentities::rateDomain(const QString &host, const HttpHeaders &headers) const
{
    const QString lowerHost = host.toLower();
    if (rateKey() == RateKey::Host)
        return lowerHost;
    const QByteArray authorization = headers.value("Authorization");
    if (authorization.isEmpty())
        return lowerHost;
    const QString basicId = basicAuthClientId(authorization);
    if (!basicId.isEmpty())
        return lowerHost + kAppMarker + basicId;
    if (const auto identity = identityOf(headers))
        return lowerHost + kAppMarker + identity->app;
    const QString named = QString::fromLatin1(headers.value("X-Mp-App").trimmed());
    if (plausibleClientId(named))
        return lowerHost + kAppMarker + named;
    return lowerHost + kUnidentified;
}

QString AppIdentities::appOfDomain(const QString &domain)
{
    const qsizetype at = domain.indexOf(kAppMarker);
    return at < 0 ? QString() : domain.mid(at + kAppMarker.size());
}

QString AppIdentities::hostOfDomain(const QString &domain)
{
    return domain.section(QLatin1Char(' '), 0, 0);
}

QByteArray AppIdentities::cacheIdentity(const HttpHeaders &headers) const
{
    const auto identity = identityOf(headers);
    if (!identity || (identity->user.isEmpty() && !identity->appOnly))
        return {};
    return "identity:" + identity->app.toUtf8() + '\n' + identity->user.toUtf8() + '\n'
           + identity->scopes.toUtf8();
}

bool AppIdentities::learnFromTokenAnswer(const Request &request, int status, const QByteArray &body)
{
    if (status != 200)
        return false;
    const QString app = basicAuthClientId(request.headers.value("Authorization"));
    if (app.isEmpty())
        return false;
    const QJsonObject answer = QJsonDocument::fromJson(body).object();
    const QByteArray token = answer.value(QStringLiteral("access_token")).toString().toUtf8();
    if (token.isEmpty())
        return false;

    const QUrlQuery form(QString::fromUtf8(request.body));
    Identity identity;
    identity.app = app;
    const QString grant = form.queryItemValue(QStringLiteral("grant_type"), QUrl::FullyDecoded);
    if (grant == QLatin1String("password"))
        identity.user = form.queryItemValue(QStringLiteral("username"), QUrl::FullyDecoded).toLower();
    identity.appOnly = grant == QLatin1String("client_credentials")
                       || grant == QLatin1String("https://oauth.reddit.com/grants/installed_client");
    identity.scopes = sortedScopes(answer.value(QStringLiteral("scope")).toString());
    const int expiresIn = answer.value(QStringLiteral("expires_in")).toInt(0);
    if (expiresIn > 0)
        identity.expires = QDateTime::currentDateTimeUtc().addSecs(expiresIn);
    learned(hashToken(token), identity);
    return true;
}

bool AppIdentities::learnFromMeAnswer(const Request &request, int status, const QByteArray &body)
{
    if (status != 200)
        return false;
    const QByteArray hash = tokenHashOf(request.headers);
    const QString user = QJsonDocument::fromJson(body).object().value(QStringLiteral("name")).toString().toLower();
    if (hash.isEmpty() || user.isEmpty())
        return false;
    Identity identity;
    {
        QMutexLocker lock(&m_mutex);
        const auto it = m_byTokenHash.constFind(hash);
        if (it == m_byTokenHash.cend() || it->user == user)
            return false; // unknown token: its app stays unknown too
        identity = *it;
    }
    identity.user = user;
    learned(hash, identity);
    return true;
}

void AppIdentities::insert(const QByteArray &tokenHash, const Identity &identity)
{
    QMutexLocker lock(&m_mutex);
    m_byTokenHash.insert(tokenHash, identity);
}

void AppIdentities::learned(const QByteArray &hash, const Identity &identity)
{
    QList<LearnedListener> listeners;
    {
        QMutexLocker lock(&m_mutex);
        m_byTokenHash.insert(hash, identity);
        listeners = m_listeners.values();
    }
    qCDebug(lcIdentities) << "learned a token of app" << identity.app
                          << (identity.user.isEmpty() ? QStringLiteral("(app-only or user unknown)") : identity.user);
    for (const LearnedListener &listener : std::as_const(listeners))
        listener(hash, identity);
}

int AppIdentities::addLearnedListener(LearnedListener listener)
{
    QMutexLocker lock(&m_mutex);
    const int id = ++m_nextListenerId;
    m_listeners.insert(id, std::move(listener));
    return id;
}

void AppIdentities::removeLearnedListener(int id)
{
    QMutexLocker lock(&m_mutex);
    m_listeners.remove(id);
}

int AppIdentities::size() const
{
    QMutexLocker lock(&m_mutex);
    return int(m_byTokenHash.size());
}

QByteArray AppIdentities::identityToJson(const Identity &identity)
{
    QJsonObject o{{QStringLiteral("app"), identity.app},
                  {QStringLiteral("user"), identity.user},
                  {QStringLiteral("scopes"), identity.scopes}};
    if (identity.expires.isValid())
        o.insert(QStringLiteral("expires"), identity.expires.toSecsSinceEpoch());
    if (identity.appOnly)
        o.insert(QStringLiteral("appOnly"), true);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

std::optional<AppIdentities::Identity> AppIdentities::identityFromJson(const QByteArray &json)
{
    const QJsonObject o = QJsonDocument::fromJson(json).object();
    Identity identity;
    identity.app = o.value(QStringLiteral("app")).toString();
    if (!plausibleClientId(identity.app))
        return std::nullopt;
    identity.user = o.value(QStringLiteral("user")).toString();
    identity.scopes = o.value(QStringLiteral("scopes")).toString();
    identity.appOnly = o.value(QStringLiteral("appOnly")).toBool();
    if (o.contains(QStringLiteral("expires")))
        identity.expires = QDateTime::fromSecsSinceEpoch(o.value(QStringLiteral("expires")).toInteger(), Qt::UTC);
    return identity;
}

bool AppIdentities::save(const QString &path, QString *error) const
{
    QJsonObject tokens;
    {
        QMutexLocker lock(&m_mutex);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (auto it = m_byTokenHash.cbegin(); it != m_byTokenHash.cend(); ++it) {
            if (it->expires.isValid() && it->expires < now)
                continue;
            tokens.insert(QString::fromLatin1(it.key()),
                          QJsonDocument::fromJson(identityToJson(*it)).object());
        }
    }
    QSaveFile file(path);
    // Owner-only from the first byte: the hashes are not secrets, but which
    // user runs which app is nobody else's business.
    if (!file.open(QIODevice::WriteOnly)
        || !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    const QJsonObject root{{QStringLiteral("version"), 1}, {QStringLiteral("tokens"), tokens}};
    file.write(QJsonDocument(root).toJson(QJsonDocument::Indented));
    if (!file.commit()) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

bool AppIdentities::load(const QString &path, QString *error)
{
    QFile file(path);
    if (!file.exists())
        return true; // first start: nothing learned yet
    if (!file.open(QIODevice::ReadOnly)) {
        if (error)
            *error = file.errorString();
        return false;
    }
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &parseError);
    if (!doc.isObject() || doc.object().value(QStringLiteral("version")).toInt() != 1) {
        if (error)
            *error = parseError.error != QJsonParseError::NoError ? parseError.errorString()
                                                                 : QStringLiteral("not a version 1 state file");
        return false;
    }
    const QJsonObject tokens = doc.object().value(QStringLiteral("tokens")).toObject();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QMutexLocker lock(&m_mutex);
    for (auto it = tokens.begin(); it != tokens.end(); ++it) {
        const auto identity = identityFromJson(QJsonDocument(it.value().toObject()).toJson());
        if (identity && !(identity->expires.isValid() && identity->expires < now))
            m_byTokenHash.insert(it.key().toLatin1(), *identity);
    }
    return true;
}

} // namespace prawmp
