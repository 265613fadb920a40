#include "ServerAddress.h"

#include <QFile>
#include <QHostAddress>
#include <QSettings>

namespace prawmp::gui {

bool ServerAddress::isLoopback() const
{
    if (host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0)
        return true;
    const QHostAddress address(host);
    return !address.isNull() && address.isLoopback();
}

QString ServerAddress::displayName() const
{
    const bool v6 = host.contains(QLatin1Char(':'));
    return (v6 ? QLatin1Char('[') + host + QLatin1Char(']') : host) + QLatin1Char(':') + QString::number(port);
}

QUrl ServerAddress::url(const QString &path) const
{
    QUrl u;
    u.setScheme(QStringLiteral("http"));
    u.setHost(host.compare(QLatin1String("localhost"), Qt::CaseInsensitive) == 0 ? QStringLiteral("127.0.0.1")
                                                                                 : host);
    u.setPort(port);
    u.setPath(path);
    return u;
}

ServerAddress ServerAddress::parse(const QString &text)
{
    ServerAddress s;
    QString t = text.trimmed();
    if (t.contains(QLatin1String("://"))) {
        const QUrl u(t);
        s.host = u.host();
        s.port = quint16(u.port(kDefaultPort));
        return s;
    }
    if (t.startsWith(QLatin1Char('['))) { // [v6]:port
        const qsizetype close = t.indexOf(QLatin1Char(']'));
        if (close < 0)
            return ServerAddress{QString(), 0, {}};
        s.host = t.mid(1, close - 1);
        t = t.mid(close + 1);
        if (t.startsWith(QLatin1Char(':'))) {
            bool ok = false;
            const uint p = t.mid(1).toUInt(&ok);
            s.port = ok && p > 0 && p < 65536 ? quint16(p) : 0;
        }
        return s;
    }
    const qsizetype colon = t.lastIndexOf(QLatin1Char(':'));
    if (colon > 0 && t.indexOf(QLatin1Char(':')) == colon) {
        bool ok = false;
        const uint p = t.mid(colon + 1).toUInt(&ok);
        s.host = t.left(colon);
        s.port = ok && p > 0 && p < 65536 ? quint16(p) : 0;
    } else {
        s.host = t; // a bare IPv6 literal or a host name
    }
    return s;
}

ServerHistory::ServerHistory(QSettings &settings) : m_settings(settings) {}

QList<ServerAddress> ServerHistory::recent() const
{
    QList<ServerAddress> list;
    const QStringList names = m_settings.value(QStringLiteral("servers/recent")).toStringList();
    for (const QString &name : names) {
        ServerAddress s = ServerAddress::parse(name);
        if (!s.isValid())
            continue;
        s.token = m_settings.value(QStringLiteral("tokens/") + QString::fromLatin1(name.toUtf8().toHex()))
                      .toString();
        list.append(s);
    }
    return list;
}

ServerAddress ServerHistory::last() const
{
    const QList<ServerAddress> list = recent();
    return list.isEmpty() ? ServerAddress{} : list.first();
}

void ServerHistory::remember(const ServerAddress &server, bool rememberToken)
{
    if (!server.isValid())
        return;
    const QString name = server.displayName();
    QStringList names = m_settings.value(QStringLiteral("servers/recent")).toStringList();
    names.removeAll(name);
    names.prepend(name);
    while (names.size() > kMaxRecent)
        names.removeLast();
    m_settings.setValue(QStringLiteral("servers/recent"), names);
    // Keys are hex so that "[::1]:10101" survives the INI format.
    const QString tokenKey = QStringLiteral("tokens/") + QString::fromLatin1(name.toUtf8().toHex());
    if (rememberToken && !server.token.isEmpty())
        m_settings.setValue(tokenKey, server.token);
    else
        m_settings.remove(tokenKey);
    m_settings.sync();
    if (rememberToken && !server.token.isEmpty() && QFile::exists(m_settings.fileName()))
        QFile::setPermissions(m_settings.fileName(), QFile::ReadOwner | QFile::WriteOwner);
}

void ServerHistory::forget(const ServerAddress &server)
{
    const QString name = server.displayName();
    QStringList names = m_settings.value(QStringLiteral("servers/recent")).toStringList();
    names.removeAll(name);
    m_settings.setValue(QStringLiteral("servers/recent"), names);
    m_settings.remove(QStringLiteral("tokens/") + QString::fromLatin1(name.toUtf8().toHex()));
}

} // namespace prawmp::gui
