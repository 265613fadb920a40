#pragma once
#include "prawmp/StatsSnapshot.h"

#include <QStringList>
#include <QWidget>

namespace prawmp::gui {

// One bar per rate domain: how much of the upstream's current window is
// spent (filled) and left, when it resets, and what waits for it. The
// picture answers "how close are we to the limit" faster than numbers.
class BudgetGauges : public QWidget
{
    Q_OBJECT
public:
    explicit BudgetGauges(QWidget *parent = nullptr);

    void setDomains(const QList<DomainState> &domains);
    void setStale(bool stale);
    const QList<DomainState> &domains() const { return m_domains; }
    // The text drawn for a domain, e.g. "37 / 100 used · 63 left · resets in 42 s".
    static QString describe(const DomainState &domain);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    int rowHeight() const;
    QList<DomainState> m_domains;
    QStringList m_order; // colour index per domain, first seen first
    bool m_stale = false;
};

} // namespace prawmp::gui
