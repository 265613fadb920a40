#pragma once
#include "DaemonConnection.h"

#include <QWidget>

class QLabel;

namespace prawmp::gui {

// The status bar's connection state: a coloured dot (green connected,
// amber connecting or reconnecting, red failed, grey off) and one line of
// text ("Connected to localhost:10101 · daemon 0.1.0 · up 3h 12m").
class ConnectionIndicator : public QWidget
{
    Q_OBJECT
public:
    explicit ConnectionIndicator(QWidget *parent = nullptr);

    void setState(DaemonConnection::State state, const QString &text, bool failing);
    QString text() const;

private:
    class Dot;
    Dot *m_dot = nullptr;
    QLabel *m_label = nullptr;
};

} // namespace prawmp::gui
