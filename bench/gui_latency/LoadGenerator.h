#pragma once
#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>

class QTcpSocket;
class QTimer;

// Many HTTP/1.1 keep-alive clients of one daemon, each with its own
// User-Agent, together sending a fixed number of requests per second (one
// request in flight per client, no pipelining). Used in a separate process
// so the load does not compete with the GUI's event loop.
class LoadGenerator : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        quint64 sent = 0, answered = 0, hits = 0, errors = 0, behind = 0;
    };

    LoadGenerator(quint16 port, int clients, double ratePerSecond, int urls, QObject *parent = nullptr);

    // Opens every connection and fetches every URL once (so the rest hit the cache).
    void prepare();
    void start();
    void stop();
    Stats stats() const { return m_stats; }

signals:
    void ready();

private:
    struct Client
    {
        QTcpSocket *socket = nullptr;
        QByteArray userAgent;
        QByteArray buffer;
        bool busy = false;
        qint64 expectBody = -1; // bytes of body still to come; -1: reading the head
        bool hit = false;
    };

    void send(Client &client, int urlIndex);
    void onReadyRead(Client &client);
    void tick();
    void checkReady();

    quint16 m_port;
    double m_rate;
    int m_urls;
    QList<Client *> m_clients;
    QTimer *m_timer = nullptr;
    QElapsedTimer m_clock;
    Stats m_stats;
    int m_next = 0;
    quint64 m_dueSent = 0;
    int m_connected = 0;
    int m_primed = 0;
    bool m_running = false;
    bool m_readyEmitted = false;
};
