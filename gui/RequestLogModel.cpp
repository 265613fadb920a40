#include "RequestLogModel.h"

#include "Theme.h"

#include "prawmp/RequestPipeline.h"

#include <QDateTime>
#include <QGuiApplication>
#include <QLocale>
#include <QPalette>
#include <QUrl>

namespace prawmp::gui {

RequestLogModel::RequestLogModel(QObject *parent) : QAbstractTableModel(parent) {}

void RequestLogModel::setCapacity(int capacity)
{
    m_capacity = std::max(1, capacity);
    if (qsizetype(m_rows.size()) > m_capacity) {
        beginRemoveRows({}, m_capacity, int(m_rows.size()) - 1);
        m_rows.resize(size_t(m_capacity));
        endRemoveRows();
    }
}

QString RequestLogModel::redact(const QString &url)
{
    if (!url.contains(QLatin1Char('=')) && !url.contains(QLatin1Char('@')))
        return url;
    return RequestPipeline::redactedUrl(QUrl(url, QUrl::TolerantMode));
}

QString RequestLogModel::clientText(const QString &clientId)
{
    // The daemon's client id is "PEER USER-AGENT"; the User-Agent says more.
    const qsizetype space = clientId.indexOf(QLatin1Char(' '));
    if (space <= 0 || space == clientId.size() - 1)
        return clientId;
    return QStringLiteral("%1 (%2)").arg(clientId.mid(space + 1), clientId.left(space));
}

QString RequestLogModel::cacheStatusText(CacheStatus status)
{
    return QString::fromLatin1(cacheStatusName(status));
}

QString RequestLogModel::cacheText(int row) const
{
    return cacheStatusText(record(row).cacheStatus);
}

void RequestLogModel::addRecords(const QList<RequestRecord> &records)
{
    if (records.isEmpty())
        return;
    m_totalAdded += quint64(records.size());
    // Only the newest `capacity` can be shown anyway.
    const qsizetype first = std::max<qsizetype>(0, records.size() - m_capacity);
    const int count = int(records.size() - first);
    beginInsertRows({}, 0, count - 1);
    for (qsizetype i = first; i < records.size(); ++i) {
        Row row;
        row.record = records[i];
        row.record.url = redact(row.record.url);
        if (row.record.finishedAtMs <= 0)
            row.record.finishedAtMs = QDateTime::currentMSecsSinceEpoch();
        const RequestRecord &r = row.record;
        row.haystack = QStringList{r.clientId, QString::fromLatin1(r.method), r.url,
                                   QString::number(r.status), cacheStatusText(r.cacheStatus), r.error}
                           .join(QLatin1Char(' '))
                           .toLower();
        m_rows.push_front(std::move(row));
    }
    endInsertRows();
    if (qsizetype(m_rows.size()) > m_capacity) {
        beginRemoveRows({}, m_capacity, int(m_rows.size()) - 1);
        m_rows.resize(size_t(m_capacity));
        endRemoveRows();
    }
}

void RequestLogModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
}

int RequestLogModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int RequestLogModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RequestLogModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || size_t(index.row()) >= m_rows.size())
        return {};
    const Row &row = m_rows[size_t(index.row())];
    const RequestRecord &r = row.record;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case Time:
            return QDateTime::fromMSecsSinceEpoch(r.finishedAtMs).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Client: return clientText(r.clientId);
        case Method: return QString::fromLatin1(r.method);
        case Url: return r.url;
        case Status:
            if (r.status == 0)
                return r.error.isEmpty() ? QStringLiteral("–") : r.error;
            return r.error.isEmpty() ? QString::number(r.status)
                                     : QStringLiteral("%1 %2").arg(r.status).arg(r.error);
        case Cache: return cacheStatusText(r.cacheStatus);
        case WaitMs: return QLocale().toString(r.waitMs);
        case TotalMs: return QLocale().toString(r.totalMs);
        }
        break;
    case FilterRole:
        return row.haystack;
    case Qt::ToolTipRole:
        if (index.column() == Url || index.column() == Client)
            return data(index, Qt::DisplayRole);
        if (index.column() == Time)
            return QLocale().toString(QDateTime::fromMSecsSinceEpoch(r.finishedAtMs), QLocale::LongFormat);
        break;
    case Qt::ForegroundRole: {
        const QPalette palette = QGuiApplication::palette();
        if (index.column() == Cache)
            return theme::cacheStatusColor(cacheStatusText(r.cacheStatus), palette);
        if (index.column() == Status && (r.status >= 400 || r.status == 0))
            return theme::color(theme::Series::Error, palette);
        break;
    }
    case Qt::TextAlignmentRole:
        if (index.column() == WaitMs || index.column() == TotalMs || index.column() == Status)
            return int(Qt::AlignRight | Qt::AlignVCenter);
        break;
    }
    return {};
}

QVariant RequestLogModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Time: return tr("Time");
    case Client: return tr("Client");
    case Method: return tr("Method");
    case Url: return tr("URL");
    case Status: return tr("Status");
    case Cache: return tr("X-Cache");
    case WaitMs: return tr("Wait ms");
    case TotalMs: return tr("Total ms");
    }
    return {};
}

RequestLogFilter::RequestLogFilter(QObject *parent) : QSortFilterProxyModel(parent)
{
    setFilterRole(RequestLogModel::FilterRole);
}

void RequestLogFilter::setFilterText(const QString &text)
{
    m_text = text;
    m_words = text.toLower().split(QLatin1Char(' '), Qt::SkipEmptyParts);
    invalidateFilter();
}

bool RequestLogFilter::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (m_words.isEmpty())
        return true;
    const QString haystack =
        sourceModel()->index(sourceRow, 0, sourceParent).data(RequestLogModel::FilterRole).toString();
    for (const QString &word : m_words) {
        if (!haystack.contains(word))
            return false;
    }
    return true;
}

} // namespace prawmp::gui
