#include "TestPorts.h"

#include <QTcpServer>
#include <QTcpSocket>

namespace prawmp::test {

quint16 freeLoopbackPort(const QHostAddress &address)
{
    QTcpServer server;
    if (!server.listen(address, 0))
        return 0;
    return server.serverPort();
}

bool isPortOpen(quint16 port, const QHostAddress &address, int timeoutMs)
{
    QTcpSocket socket;
    socket.connectToHost(address, port);
    // Blocking is fine here: a loopback connect resolves at once.
    return socket.waitForConnected(timeoutMs);
}

} // namespace prawmp::test
