#pragma once
#include "prawmp/PipelineStats.h"

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QStringList>

#include <deque>

namespace prawmp::gui {

// The most recent finished requests, newest first, bounded (oldest drop
// out). URLs are redacted again on the way in (the daemon already does it):
// a credential in a query must never reach the screen or the clipboard.
class RequestLogModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Time, Client, Method, Url, Status, Cache, WaitMs, TotalMs, ColumnCount };
    // A lower-case line of every column, what the filter box searches.
    static constexpr int FilterRole = Qt::UserRole + 1;
    static constexpr int kDefaultCapacity = 5000;

    explicit RequestLogModel(QObject *parent = nullptr);

    void setCapacity(int capacity);
    int capacity() const { return m_capacity; }
    // In the order they finished (oldest first), as the daemon sends them.
    void addRecords(const QList<RequestRecord> &records);
    void clear();
    quint64 totalAdded() const { return m_totalAdded; }
    const RequestRecord &record(int row) const { return m_rows.at(size_t(row)).record; }
    QString cacheText(int row) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

    // Defence in depth over the daemon's redaction, the same rules.
    static QString redact(const QString &url);
    static QString cacheStatusText(CacheStatus status);
    // "bot/1.0 (127.0.0.1)" for the client id "127.0.0.1 bot/1.0".
    static QString clientText(const QString &clientId);

private:
    struct Row
    {
        RequestRecord record;
        QString haystack;
    };
    std::deque<Row> m_rows; // front = newest
    int m_capacity = kDefaultCapacity;
    quint64 m_totalAdded = 0;
};

// Keeps the rows whose FilterRole contains every word of the filter text
// ("hit python" = rows with both); case-insensitive.
class RequestLogFilter : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit RequestLogFilter(QObject *parent = nullptr);
    void setFilterText(const QString &text);
    QString filterText() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    QString m_text;
    QStringList m_words;
};

} // namespace prawmp::gui
