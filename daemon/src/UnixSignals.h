#pragma once
#include <QObject>

class QSocketNotifier;

namespace prawmp {

// Turns SIGINT/SIGTERM (stop) and SIGHUP (reload the config file) into Qt
// signals delivered by the event loop. The C signal handler only writes the
// signal number into a socketpair (async-signal-safe); a QSocketNotifier on
// the other end emits the Qt signal, so all real work runs on the event
// loop. One instance per process (the handlers are process-wide); the
// destructor restores the previous handlers. Owned by main().
class UnixSignals : public QObject
{
    Q_OBJECT
public:
    explicit UnixSignals(QObject *parent = nullptr);
    ~UnixSignals() override;

    // False when the pipe or the handlers could not be set up (see errorString()).
    bool isValid() const;
    QString errorString() const;

signals:
    // SIGINT or SIGTERM; emitted again on every further signal so that main()
    // can decide that a second one means "stop now".
    void terminateRequested(int signo);
    // SIGHUP.
    void reloadRequested();

private:
    void readSignals();

    QSocketNotifier *m_notifier = nullptr;
    QString m_error;
};

} // namespace prawmp
