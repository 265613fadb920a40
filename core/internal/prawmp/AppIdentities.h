#pragma once
#include "prawmp/HttpHeaders.h"

#include <QByteArray>
#include <QDateTime>
#include <QHash>
#include <QMutex>
#include <QString>
#include <functional>
#include <optional>

namespace prawmp {

struct Request;

// Which Reddit identity a request's credentials stand for, learned from the
// token exchanges that pass through: Reddit counts its budget per OAuth
// client id (the "app"), so the rate domain is (host, app); and one user's
// tokens of one app with the same scopes may share cached answers.
//
// Only a SHA-256 hash of each access token is kept, never the token. The
// map can be saved to and loaded from a state file (owner-only), and fed
// from or to Redis through learned(). Thread-safe.
class PRAWMP_EXPORT AppIdentities
{
public:
    enum class RateKey { App, Host };

    // What the daemon learned about one access token.
    struct Identity
    {
        QString app;      // OAuth client id
        QString user;     // empty for app-only tokens or until learned
        QString scopes;   // granted scopes, sorted, space-separated
        QDateTime expires; // from expires_in; invalid: unknown
        bool appOnly = false; // a client_credentials/installed_client grant: no user

        bool operator==(const Identity &other) const = default;
    };

    explicit AppIdentities(RateKey key = RateKey::App);

    void setRateKey(RateKey key);
    RateKey rateKey() const;

    // The rate domain a request to `host` counts in:
    //   rate key "host"                   -> host
    //   Basic auth (token requests)       -> host + " app:" + client id
    //   bearer token learned              -> the learned app
    //   bearer token unknown + X-Mp-App   -> the named app
    //   bearer token unknown              -> host + " unidentified"
    //   no credentials                    -> host (the host's anonymous domain)
    // A learned token wins over a contradicting X-Mp-App.
    QString rateDomain(const QString &host, const HttpHeaders &headers) const;

    // The app a rate domain belongs to (client id), or empty for the host,
    // anonymous and unidentified domains.
    static QString appOfDomain(const QString &domain);
    // The host part of a rate domain.
    static QString hostOfDomain(const QString &domain);

    // What a cached answer is keyed by instead of the Authorization hash
    // when the token is known: "app user scopes". Empty when unknown, and
    // while a user token's user is not known yet (a refresh_token grant
    // before its /api/v1/me): two users must never share.
    QByteArray cacheIdentity(const HttpHeaders &headers) const;

    // A request to /api/v1/access_token got this answer: learn the access
    // token's app (Basic auth), user (password grant) and scopes. Returns
    // true when something was learned.
    bool learnFromTokenAnswer(const Request &request, int status, const QByteArray &body);
    // /api/v1/me answered: the bearer token belongs to this user.
    bool learnFromMeAnswer(const Request &request, int status, const QByteArray &body);
    // An entry learned elsewhere (another daemon, through Redis; the state file).
    void insert(const QByteArray &tokenHash, const Identity &identity);

    // Listeners called (outside the lock, on the learning thread) whenever
    // an entry is learned or changed here; not for insert(). The id removes it.
    using LearnedListener = std::function<void(const QByteArray &tokenHash, const Identity &)>;
    int addLearnedListener(LearnedListener listener);
    void removeLearnedListener(int id);

    std::optional<Identity> identityOf(const HttpHeaders &headers) const;
    int size() const;

    // The state file: JSON, written atomically with mode 0600. Expired
    // entries are dropped on load and save.
    bool save(const QString &path, QString *error = nullptr) const;
    bool load(const QString &path, QString *error = nullptr);

    // Hex SHA-256 of an access token: the only form the map keeps.
    static QByteArray hashToken(const QByteArray &token);
    // The client id of a Basic Authorization value, or empty.
    static QString basicAuthClientId(const QByteArray &authorization);
    // The token of a Bearer Authorization value, or empty.
    static QByteArray bearerToken(const QByteArray &authorization);

    // JSON shape of one entry, shared by the state file and Redis.
    static QByteArray identityToJson(const Identity &identity);
    static std::optional<Identity> identityFromJson(const QByteArray &json);

private:
    QByteArray tokenHashOf(const HttpHeaders &headers) const;
    void learned(const QByteArray &hash, const Identity &identity);

    mutable QMutex m_mutex;
    RateKey m_key;
    QHash<QByteArray, Identity> m_byTokenHash;
    QHash<int, LearnedListener> m_listeners;
    int m_nextListenerId = 0;
};

} // namespace prawmp
