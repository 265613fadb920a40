#pragma once
#include <QList>
#include <QString>
#include <QUrl>

class QSettings;

namespace prawmp::gui {

// Where a daemon listens and the proxy token it wants (may be empty). The
// token is a credential: it is sent in Proxy-Authorization and never shown,
// so displayName() and the recent-server list carry host and port only.
struct ServerAddress
{
    static constexpr quint16 kDefaultPort = 10101;

    QString host = QStringLiteral("localhost");
    quint16 port = kDefaultPort;
    QString token;

    bool isValid() const { return !host.isEmpty() && port != 0; }
    // localhost, 127.0.0.0/8 or ::1: a daemon the dashboard could start itself.
    bool isLoopback() const;
    // "host:port" ("[::1]:10101" for IPv6 literals).
    QString displayName() const;
    // http://host:port/path (127.0.0.1 is used for "localhost" to skip a lookup).
    QUrl url(const QString &path) const;
    // Parses "host", "host:port", "[v6]:port" or "http://host:port/"; the
    // token is left empty. Invalid (empty host) when it cannot be read.
    static ServerAddress parse(const QString &text);

    friend bool operator==(const ServerAddress &a, const ServerAddress &b)
    {
        return a.host == b.host && a.port == b.port && a.token == b.token;
    }
};

// The servers this user connected to, most recent first (QSettings "servers/").
// Tokens are stored only for servers whose token the user chose to remember,
// in the user's own settings file, which is made readable by its owner only.
class ServerHistory
{
public:
    static constexpr int kMaxRecent = 10;

    explicit ServerHistory(QSettings &settings);

    QList<ServerAddress> recent() const; // tokens filled in where remembered
    ServerAddress last() const;          // the default when nothing was used yet
    void remember(const ServerAddress &server, bool rememberToken);
    void forget(const ServerAddress &server);

private:
    QSettings &m_settings;
};

} // namespace prawmp::gui
