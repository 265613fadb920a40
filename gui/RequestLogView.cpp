#include "RequestLogView.h"

#include <QApplication>
#include <QClipboard>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

namespace prawmp::gui {

namespace {

// URLs are cut on the left: the path and query tell requests apart, the host rarely does.
class ElideLeftDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;

protected:
    void initStyleOption(QStyleOptionViewItem *option, const QModelIndex &index) const override
    {
        QStyledItemDelegate::initStyleOption(option, index);
        option->textElideMode = Qt::ElideLeft;
    }
};

} // namespace

RequestLogView::RequestLogView(QWidget *parent) : QWidget(parent)
{
    m_model = new RequestLogModel(this);
    m_filter = new RequestLogFilter(this);
    m_filter->setSourceModel(m_model);

    m_title = new QLabel(tr("Recent requests"), this);
    QFont bold = m_title->font();
    bold.setBold(true);
    m_title->setFont(bold);

    m_filterEdit = new QLineEdit(this);
    m_filterEdit->setPlaceholderText(tr("Filter (Ctrl+F): words that must all appear, e.g. miss python"));
    m_filterEdit->setClearButtonEnabled(true);
    m_filterEdit->setAccessibleName(tr("Request log filter"));
    connect(m_filterEdit, &QLineEdit::textChanged, this, [this](const QString &text) {
        m_filter->setFilterText(text);
        updateCount();
    });

    m_pauseButton = new QToolButton(this);
    m_pauseButton->setText(tr("Pause"));
    m_pauseButton->setCheckable(true);
    m_pauseButton->setToolTip(tr("Freeze the log to read it; requests keep being collected (Ctrl+Shift+P)"));
    connect(m_pauseButton, &QToolButton::toggled, this, [this](bool paused) {
        m_pauseButton->setText(paused ? tr("Resume") : tr("Pause"));
        if (!paused)
            flush();
        updateCount();
        emit pausedChanged(paused);
    });

    m_count = new QLabel(this);
    m_count->setSizePolicy(QSizePolicy::Minimum, QSizePolicy::Preferred);

    m_view = new QTableView(this);
    m_view->setModel(m_filter);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setAlternatingRowColors(true);
    m_view->setWordWrap(false);
    m_view->setShowGrid(false);
    m_view->setItemDelegateForColumn(RequestLogModel::Url, new ElideLeftDelegate(m_view));
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
    m_view->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    QHeaderView *header = m_view->horizontalHeader();
    header->setHighlightSections(false);
    header->setSectionResizeMode(RequestLogModel::Url, QHeaderView::Stretch);
    const int digit = fontMetrics().horizontalAdvance(QLatin1Char('0'));
    m_view->setColumnWidth(RequestLogModel::Time, digit * 14);
    m_view->setColumnWidth(RequestLogModel::Client, digit * 21);
    m_view->setColumnWidth(RequestLogModel::Method, digit * 8);
    m_view->setColumnWidth(RequestLogModel::Status, digit * 8);
    m_view->setColumnWidth(RequestLogModel::Cache, digit * 12);
    m_view->setColumnWidth(RequestLogModel::WaitMs, digit * 9);
    m_view->setColumnWidth(RequestLogModel::TotalMs, digit * 9);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_view, &QWidget::customContextMenuRequested, this, &RequestLogView::showContextMenu);

    auto *top = new QHBoxLayout;
    top->setContentsMargins(0, 0, 0, 0);
    top->addWidget(m_title);
    top->addSpacing(8);
    top->addWidget(m_filterEdit, 1);
    top->addWidget(m_pauseButton);
    top->addWidget(m_count);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(4);
    layout->addLayout(top);
    layout->addWidget(m_view);

    m_flushTimer = new QTimer(this);
    m_flushTimer->setInterval(kFlushIntervalMs);
    m_flushTimer->setSingleShot(true);
    connect(m_flushTimer, &QTimer::timeout, this, &RequestLogView::flush);
    updateCount();
}

void RequestLogView::addRecords(const QList<RequestRecord> &records)
{
    m_pending += records;
    // While paused only the newest that could ever be shown are kept.
    const qsizetype excess = m_pending.size() - m_model->capacity();
    if (excess > 0)
        m_pending.remove(0, excess);
    if (!isPaused() && !m_flushTimer->isActive())
        m_flushTimer->start();
}

void RequestLogView::flush()
{
    m_flushTimer->stop();
    if (m_pending.isEmpty())
        return;
    m_model->addRecords(m_pending);
    m_pending.clear();
    updateCount();
}

void RequestLogView::setPaused(bool paused)
{
    m_pauseButton->setChecked(paused);
}

bool RequestLogView::isPaused() const
{
    return m_pauseButton->isChecked();
}

void RequestLogView::setFilterText(const QString &text)
{
    m_filterEdit->setText(text);
}

void RequestLogView::focusFilter()
{
    m_filterEdit->setFocus(Qt::ShortcutFocusReason);
    m_filterEdit->selectAll();
}

QString RequestLogView::selectedUrl() const
{
    const QModelIndexList rows = m_view->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    return m_model->record(m_filter->mapToSource(rows.first()).row()).url;
}

void RequestLogView::updateCount()
{
    QLocale locale;
    QString text = m_filter->filterText().isEmpty()
                       ? tr("%1 rows").arg(locale.toString(m_model->rowCount()))
                       : tr("%1 of %2 rows").arg(locale.toString(m_filter->rowCount()), locale.toString(m_model->rowCount()));
    if (isPaused() && !m_pending.isEmpty())
        text += tr(" · %1 new").arg(locale.toString(qsizetype(m_pending.size())));
    m_count->setText(text);
}

void RequestLogView::showContextMenu(const QPoint &pos)
{
    const QModelIndex index = m_filter->mapToSource(m_view->indexAt(pos));
    if (!index.isValid())
        return;
    const RequestRecord record = m_model->record(index.row());
    auto *menu = new QMenu(this);
    menu->setAttribute(Qt::WA_DeleteOnClose);
    menu->addAction(tr("Evict this URL from the cache…"), this, [this, record] { emit evictRequested(record.url); });
    menu->addAction(tr("Copy URL"), this, [record] { QApplication::clipboard()->setText(record.url); });
    menu->addAction(tr("Show only this client"), this,
                    [this, record] { setFilterText(record.clientId.toLower()); });
    menu->popup(m_view->viewport()->mapToGlobal(pos));
}

} // namespace prawmp::gui
