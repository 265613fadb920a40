#pragma once
#include "prawmp/Export.h"

#include <QDateTime>
#include <QObject>

#include <memory>

namespace prawmp {

class HttpHeaders;

// The shared rate budget as the last answer announced it (X-Ratelimit-Used,
// -Remaining, -Reset), as Qt properties so that a widget or a QML binding
// can show it. Through the daemon these headers describe the budget every
// client of one rate domain shares, not only this process's spending.
// Owned by the NetworkAccessManager that hands it out.
class PRAWMP_EXPORT RateBudget : public QObject
{
    Q_OBJECT
    // False until an answer carried the headers.
    Q_PROPERTY(bool known READ isKnown NOTIFY changed)
    Q_PROPERTY(int remaining READ remaining NOTIFY changed)
    Q_PROPERTY(int used READ used NOTIFY changed)
    // used + remaining: the window's allowance.
    Q_PROPERTY(int budget READ budget NOTIFY changed)
    // When the window ends (local clock), and seconds from the last answer to then.
    Q_PROPERTY(QDateTime resetTime READ resetTime NOTIFY changed)
    Q_PROPERTY(int resetSeconds READ resetSeconds NOTIFY changed)
    // The host whose answers feed this object; empty: any routed host.
    Q_PROPERTY(QString host READ host CONSTANT)
public:
    explicit RateBudget(const QString &host = QString(), QObject *parent = nullptr);
    ~RateBudget() override;

    bool isKnown() const;
    int remaining() const;
    int used() const;
    int budget() const;
    QDateTime resetTime() const;
    int resetSeconds() const;
    QString host() const;

    // Takes the X-Ratelimit-* fields of an answer; returns whether they were
    // there (changed() is emitted when a value changed).
    bool update(const HttpHeaders &headers);

signals:
    void changed();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace prawmp
