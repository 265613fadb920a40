#pragma once
#include "RequestLogModel.h"

#include <QList>
#include <QWidget>

class QLabel;
class QLineEdit;
class QTableView;
class QTimer;
class QToolButton;

namespace prawmp::gui {

// The recent requests: a filter box, a pause switch and the table (newest
// on top). Records are buffered and added a few times a second, so 500
// requests per second cost a few model updates, not 500.
class RequestLogView : public QWidget
{
    Q_OBJECT
public:
    static constexpr int kFlushIntervalMs = 250;

    explicit RequestLogView(QWidget *parent = nullptr);

    void addRecords(const QList<RequestRecord> &records);
    // Adds what is buffered now (tests, and before a screenshot).
    void flush();
    void setPaused(bool paused);
    bool isPaused() const;
    void setFilterText(const QString &text);
    void focusFilter();

    RequestLogModel *model() const { return m_model; }
    RequestLogFilter *filter() const { return m_filter; }
    QTableView *view() const { return m_view; }
    QLineEdit *filterEdit() const { return m_filterEdit; }
    // The URL of the selected row, if any.
    QString selectedUrl() const;

signals:
    void evictRequested(const QString &url);
    void pausedChanged(bool paused);

private:
    void updateCount();
    void showContextMenu(const QPoint &pos);

    RequestLogModel *m_model = nullptr;
    RequestLogFilter *m_filter = nullptr;
    QTableView *m_view = nullptr;
    QLineEdit *m_filterEdit = nullptr;
    QToolButton *m_pauseButton = nullptr;
    QLabel *m_title = nullptr;
    QLabel *m_count = nullptr;
    QTimer *m_flushTimer = nullptr;
    QList<RequestRecord> m_pending;
};

} // namespace prawmp::gui
