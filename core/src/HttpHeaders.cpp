#include "prawmp/HttpHeaders.h"

#include "HttpWire.h"

namespace prawmp {

HttpHeaders::HttpHeaders(std::initializer_list<Field> fields)
    : m_fields(fields)
{
}

QByteArray HttpHeaders::value(const QByteArray &name) const
{
    for (const Field &f : m_fields) {
        if (f.first.compare(name, Qt::CaseInsensitive) == 0)
            return f.second;
    }
    return {};
}

QList<QByteArray> HttpHeaders::values(const QByteArray &name) const
{
    QList<QByteArray> result;
    for (const Field &f : m_fields) {
        if (f.first.compare(name, Qt::CaseInsensitive) == 0)
            result.append(f.second);
    }
    return result;
}

bool HttpHeaders::contains(const QByteArray &name) const
{
    for (const Field &f : m_fields) {
        if (f.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

void HttpHeaders::set(const QByteArray &name, const QByteArray &value)
{
    // Keep the field where it first appeared, so a rewrite does not reorder.
    auto it = std::find_if(m_fields.begin(), m_fields.end(), [&](const Field &f) {
        return f.first.compare(name, Qt::CaseInsensitive) == 0;
    });
    if (it == m_fields.end()) {
        m_fields.append({name, value});
        return;
    }
    const qsizetype index = it - m_fields.begin();
    m_fields[index] = {name, value};
    m_fields.erase(std::remove_if(m_fields.begin() + index + 1, m_fields.end(),
                                  [&](const Field &f) {
                                      return f.first.compare(name, Qt::CaseInsensitive) == 0;
                                  }),
                   m_fields.end());
}

void HttpHeaders::add(const QByteArray &name, const QByteArray &value)
{
    m_fields.append({name, value});
}

int HttpHeaders::remove(const QByteArray &name)
{
    return int(m_fields.removeIf([&](const Field &f) {
        return f.first.compare(name, Qt::CaseInsensitive) == 0;
    }));
}

void HttpHeaders::removeHopByHop()
{
    wire::removeHopByHop(*this);
}

qsizetype HttpHeaders::byteSize() const
{
    qsizetype size = 0;
    for (const Field &f : m_fields)
        size += f.first.size() + f.second.size() + 4; // ": " and CRLF
    return size;
}

} // namespace prawmp
