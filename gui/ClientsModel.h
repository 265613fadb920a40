#pragma once
#include "prawmp/StatsSnapshot.h"

#include <QAbstractTableModel>
#include <QHash>
#include <QList>

namespace prawmp::gui {

// The connected clients of the last stats frame, one row per client. Rows
// are updated in place (not reset) so the selection and the sort order of a
// view survive the twice-a-second updates.
class ClientsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    // Hits shows the count and the share of the client's requests (with a bar).
    enum Column { UserAgent, Peer, Requests, Hits, Waiting, Bytes, ConnectedSince, ColumnCount };
    // The raw value to sort by (numbers as numbers, times as epoch ms).
    static constexpr int SortRole = Qt::UserRole + 1;
    // Hits column: the hit ratio 0..1 for the bar delegate.
    static constexpr int RatioRole = Qt::UserRole + 2;

    explicit ClientsModel(QObject *parent = nullptr);

    void setClients(const QList<ClientStats> &clients);
    // Mark the rows as coming from a disconnected daemon (greyed) without dropping them.
    void setStale(bool stale);
    const ClientStats &client(int row) const { return m_clients.at(row); }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    // "3m 12s", "2h 05m": how long ago, for the Connected since column.
    static QString formatDuration(qint64 ms);

private:
    QList<ClientStats> m_clients;
    QHash<QString, int> m_rowById;
    bool m_stale = false;
};

} // namespace prawmp::gui
