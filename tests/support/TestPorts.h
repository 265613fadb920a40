#pragma once
#include <QHostAddress>

namespace prawmp::test {

// A TCP port nobody listens on right now (the OS picks it, we release it).
// Racy by nature: prefer "--port 0" and ProcessFixture::port() when the
// program supports it; use this for ports that must be known up front
// (a daemon restarted on the same port, a config file).
quint16 freeLoopbackPort(const QHostAddress &address = QHostAddress::LocalHost);

// True when something accepts connections on address:port now.
bool isPortOpen(quint16 port, const QHostAddress &address = QHostAddress::LocalHost,
                int timeoutMs = 1000);

} // namespace prawmp::test
