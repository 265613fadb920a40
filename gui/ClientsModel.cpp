#include "ClientsModel.h"

#include <QDateTime>
#include <QFont>
#include <QGuiApplication>
#include <QLocale>
#include <QPalette>

namespace prawmp::gui {

ClientsModel::ClientsModel(QObject *parent) : QAbstractTableModel(parent) {}

void ClientsModel::setClients(const QList<ClientStats> &clients)
{
    QHash<QString, int> incoming;
    incoming.reserve(clients.size());
    for (int i = 0; i < clients.size(); ++i)
        incoming.insert(clients[i].id, i);

    // Gone clients leave, from the bottom so the row numbers stay valid.
    for (int row = int(m_clients.size()) - 1; row >= 0; --row) {
        if (incoming.contains(m_clients[row].id))
            continue;
        beginRemoveRows({}, row, row);
        m_clients.removeAt(row);
        endRemoveRows();
    }
    m_rowById.clear();
    for (int row = 0; row < m_clients.size(); ++row)
        m_rowById.insert(m_clients[row].id, row);

    // Known clients are updated in place, new ones appended in one go.
    QList<ClientStats> added;
    for (const ClientStats &c : clients) {
        const auto it = m_rowById.constFind(c.id);
        if (it != m_rowById.cend())
            m_clients[*it] = c;
        else
            added.append(c);
    }
    if (!m_clients.isEmpty())
        emit dataChanged(index(0, 0), index(int(m_clients.size()) - 1, ColumnCount - 1));
    if (!added.isEmpty()) {
        const int first = int(m_clients.size());
        beginInsertRows({}, first, first + int(added.size()) - 1);
        for (const ClientStats &c : std::as_const(added)) {
            m_rowById.insert(c.id, int(m_clients.size()));
            m_clients.append(c);
        }
        endInsertRows();
    }
}

void ClientsModel::setStale(bool stale)
{
    if (m_stale == stale)
        return;
    m_stale = stale;
    if (!m_clients.isEmpty())
        emit dataChanged(index(0, 0), index(int(m_clients.size()) - 1, ColumnCount - 1), {Qt::ForegroundRole});
}

int ClientsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_clients.size());
}

int ClientsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString ClientsModel::formatDuration(qint64 ms)
{
    const qint64 s = std::max<qint64>(0, ms / 1000);
    if (s < 60)
        return QStringLiteral("%1s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1m %2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    if (s < 86400)
        return QStringLiteral("%1h %2m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1d %2h").arg(s / 86400).arg((s % 86400) / 3600);
}

QVariant ClientsModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_clients.size())
        return {};
    const ClientStats &c = m_clients.at(index.row());
    const double ratio = c.requests ? double(c.hits) / double(c.requests) : 0.0;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Peer: return c.peer;
        case UserAgent: return c.userAgent.isEmpty() ? tr("(none)") : c.userAgent;
        case Requests: return QLocale().toString(c.requests);
        case Hits:
            return c.requests ? QStringLiteral("%1 · %2%").arg(QLocale().toString(c.hits)).arg(qRound(ratio * 100))
                              : QStringLiteral("0");
        case Waiting: return c.waiting;
        case Bytes: return QLocale().formattedDataSize(qint64(c.bytes), 1, QLocale::DataSizeTraditionalFormat);
        case ConnectedSince:
            return c.connectedSinceMs > 0
                       ? QDateTime::fromMSecsSinceEpoch(c.connectedSinceMs).toString(QStringLiteral("HH:mm:ss"))
                       : QString();
        }
        break;
    case SortRole:
        switch (index.column()) {
        case Peer: return c.peer;
        case UserAgent: return c.userAgent.toLower();
        case Requests: return c.requests;
        case Hits: return c.hits;
        case Waiting: return c.waiting;
        case Bytes: return c.bytes;
        case ConnectedSince: return c.connectedSinceMs;
        }
        break;
    case RatioRole:
        return c.requests ? QVariant(ratio) : QVariant();
    case Qt::ToolTipRole:
        switch (index.column()) {
        case UserAgent: return c.userAgent;
        case ConnectedSince:
            if (c.connectedSinceMs <= 0)
                return {};
            return tr("%1\nconnected for %2")
                .arg(QLocale().toString(QDateTime::fromMSecsSinceEpoch(c.connectedSinceMs), QLocale::LongFormat),
                     formatDuration(QDateTime::currentMSecsSinceEpoch() - c.connectedSinceMs));
        case Peer:
            return tr("%n open connection(s)", nullptr, c.connections);
        }
        break;
    case Qt::TextAlignmentRole:
        if (index.column() >= Requests && index.column() <= Bytes)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        break;
    case Qt::ForegroundRole:
        if (m_stale)
            return QGuiApplication::palette().color(QPalette::Disabled, QPalette::Text);
        break;
    case Qt::FontRole:
        if (index.column() == Waiting && c.waiting > 0) {
            QFont f;
            f.setBold(true);
            return f;
        }
        break;
    }
    return {};
}

QVariant ClientsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case Peer: return tr("Peer");
        case UserAgent: return tr("User-Agent");
        case Requests: return tr("Requests");
        case Hits: return tr("Hits");
        case Waiting: return tr("Waiting");
        case Bytes: return tr("Bytes");
        case ConnectedSince: return tr("Since");
        }
    } else if (role == Qt::ToolTipRole) {
        switch (section) {
        case Waiting: return tr("Requests of this client queued for the rate budget right now");
        case Bytes: return tr("Response bytes sent to this client");
        case Hits: return tr("Requests of this client answered from the cache, and their share");
        case ConnectedSince: return tr("Connected since");
        }
    }
    return {};
}

} // namespace prawmp::gui
