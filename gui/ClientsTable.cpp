#include "ClientsTable.h"

#include "RatioBarDelegate.h"

#include <QApplication>
#include <QClipboard>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace prawmp::gui {

ClientsTable::ClientsTable(QWidget *parent) : QWidget(parent)
{
    m_model = new ClientsModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(ClientsModel::SortRole);
    m_proxy->setDynamicSortFilter(true);

    m_title = new QLabel(this);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);

    m_view = new QTableView(this);
    m_view->setModel(m_proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ClientsModel::Requests, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setAlternatingRowColors(true);
    m_view->setWordWrap(false);
    m_view->setShowGrid(false);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_view->horizontalHeader()->setSectionResizeMode(ClientsModel::UserAgent, QHeaderView::Stretch);
    m_view->horizontalHeader()->setHighlightSections(false);
    m_view->setItemDelegateForColumn(ClientsModel::Hits, new RatioBarDelegate(ClientsModel::RatioRole, this));
    const int digit = fontMetrics().horizontalAdvance(QLatin1Char('0'));
    m_view->setColumnWidth(ClientsModel::Peer, digit * 11);
    m_view->setColumnWidth(ClientsModel::Requests, digit * 9);
    m_view->setColumnWidth(ClientsModel::Hits, digit * 12);
    m_view->setColumnWidth(ClientsModel::Waiting, digit * 8);
    m_view->setColumnWidth(ClientsModel::Bytes, digit * 9);
    m_view->setColumnWidth(ClientsModel::ConnectedSince, digit * 10);
    m_view->horizontalHeader()->setMinimumSectionSize(digit * 6);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view, &QWidget::customContextMenuRequested, this, &ClientsTable::showContextMenu);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);
    layout->addWidget(m_title);
    layout->addWidget(m_view);
    setClients({});
}

void ClientsTable::setClients(const QList<ClientStats> &clients)
{
    m_model->setClients(clients);
    m_title->setText(tr("Connected clients (%1)").arg(clients.size()));
}

void ClientsTable::setStale(bool stale)
{
    m_model->setStale(stale);
}

void ClientsTable::showContextMenu(const QPoint &pos)
{
    const QModelIndex index = m_proxy->mapToSource(m_view->indexAt(pos));
    if (!index.isValid())
        return;
    const ClientStats client = m_model->client(index.row());
    auto *menu = new QMenu(this);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    menu->addAction(tr("Show this client's requests in the log"), this,
                    [this, client] { emit filterRequested(client.id.toLower()); });
    menu->addAction(tr("Copy User-Agent"), this,
                    [client] { QApplication::clipboard()->setText(client.userAgent); });
    menu->addAction(tr("Copy peer address"), this, [client] { QApplication::clipboard()->setText(client.peer); });
    menu->popup(m_view->viewport()->mapToGlobal(pos));
}

} // namespace prawmp::gui
