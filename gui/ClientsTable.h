#pragma once
#include "ClientsModel.h"

#include <QWidget>

class QLabel;
class QSortFilterProxyModel;
class QTableView;

namespace prawmp::gui {

// The connected clients, sortable by any column (click a header), with a
// count in the title. Right click: copy the User-Agent, or show only this
// client's requests in the log (filterRequested).
class ClientsTable : public QWidget
{
    Q_OBJECT
public:
    explicit ClientsTable(QWidget *parent = nullptr);

    void setClients(const QList<ClientStats> &clients);
    void setStale(bool stale);
    ClientsModel *model() const { return m_model; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }
    QTableView *view() const { return m_view; }

signals:
    void filterRequested(const QString &text);

private:
    void showContextMenu(const QPoint &pos);

    ClientsModel *m_model = nullptr;
    QSortFilterProxyModel *m_proxy = nullptr;
    QTableView *m_view = nullptr;
    QLabel *m_title = nullptr;
};

} // namespace prawmp::gui
