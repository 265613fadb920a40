#include "ConnectionIndicator.h"

#include "Theme.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>

namespace prawmp::gui {

class ConnectionIndicator::Dot : public QWidget
{
public:
    explicit Dot(QWidget *parent) : QWidget(parent) { setFixedSize(12, 12); }
    void setColorKind(int kind)
    {
        m_kind = kind;
        update();
    }

protected:
    void paintEvent(QPaintEvent *) override
    {
        QPainter painter(this);
        painter.setRenderHint(QPainter::Antialiasing);
        const QPalette p = palette();
        QColor c;
        switch (m_kind) {
        case 0: c = p.color(QPalette::Disabled, QPalette::WindowText); break;
        case 1: c = theme::color(theme::Series::Warning, p); break;
        case 2: c = theme::color(theme::Series::Hits, p); break;
        default: c = theme::color(theme::Series::Error, p); break;
        }
        painter.setPen(Qt::NoPen);
        painter.setBrush(c);
        painter.drawEllipse(QRectF(1, 1, 10, 10));
    }

private:
    int m_kind = 0;
};

ConnectionIndicator::ConnectionIndicator(QWidget *parent) : QWidget(parent)
{
    m_dot = new Dot(this);
    m_label = new QLabel(this);
    auto *layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 0, 4, 0);
    layout->setSpacing(6);
    layout->addWidget(m_dot);
    layout->addWidget(m_label);
}

void ConnectionIndicator::setState(DaemonConnection::State state, const QString &text, bool failing)
{
    int kind = 0;
    switch (state) {
    case DaemonConnection::State::Disconnected: kind = 0; break;
    case DaemonConnection::State::Connecting: kind = failing ? 3 : 1; break;
    case DaemonConnection::State::Retrying: kind = failing ? 3 : 1; break;
    case DaemonConnection::State::Connected: kind = 2; break;
    }
    m_dot->setColorKind(kind);
    m_label->setText(text);
    setToolTip(text);
}

QString ConnectionIndicator::text() const
{
    return m_label->text();
}

} // namespace prawmp::gui
