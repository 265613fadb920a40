#pragma once
#include "prawmp/Export.h"

#include <QByteArray>
#include <QList>
#include <QPair>

namespace prawmp {

// An ordered list of HTTP header fields with case-insensitive lookup.
// Order and duplicates are kept because proxies must pass headers through
// as they came (Set-Cookie may repeat).
class PRAWMP_EXPORT HttpHeaders
{
public:
    using Field = QPair<QByteArray, QByteArray>;

    HttpHeaders() = default;
    HttpHeaders(std::initializer_list<Field> fields);

    // First value of the field, or an empty array when absent.
    QByteArray value(const QByteArray &name) const;
    QList<QByteArray> values(const QByteArray &name) const;
    bool contains(const QByteArray &name) const;

    // Replaces every field of that name by one.
    void set(const QByteArray &name, const QByteArray &value);
    void add(const QByteArray &name, const QByteArray &value);
    int remove(const QByteArray &name);

    // Drops hop-by-hop fields (RFC 9110 §7.6.1), including those the
    // Connection field names.
    void removeHopByHop();

    const QList<Field> &fields() const { return m_fields; }
    bool isEmpty() const { return m_fields.isEmpty(); }
    int size() const { return int(m_fields.size()); }
    // Approximate bytes held, for cache accounting.
    qsizetype byteSize() const;

    bool operator==(const HttpHeaders &other) const = default;

private:
    QList<Field> m_fields;
};

} // namespace prawmp
