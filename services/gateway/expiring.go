package gateway

import (
	"container/list"
	"time"
)

// expiringMap is a map with a size bound and per-entry expiry: entries past their expiry are gone, and
// adding to a full map drops the least recently used entry. It is not safe for concurrent use.
//
// hashicorp/golang-lru's expirable LRU does not fit: it has one TTL for all entries (the rate limiter keeps
// buckets of different refill times, the key cache active and inactive answers for different times), reads
// the wall clock where the tests turn a fake one, and starts a cleanup goroutine it cannot stop.
type expiringMap[K comparable, V any] struct {
	max   int
	items map[K]*list.Element
	order *list.List // front: most recently used
}

type expiringEntry[K comparable, V any] struct {
	key     K
	value   V
	expires time.Time
}

func newExpiringMap[K comparable, V any](max int) *expiringMap[K, V] {
	if max < 1 {
		max = 1
	}
	return &expiringMap[K, V]{max: max, items: map[K]*list.Element{}, order: list.New()}
}

// get returns the live value of k and marks it used.
func (m *expiringMap[K, V]) get(k K, now time.Time) (V, bool) {
	el, ok := m.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*expiringEntry[K, V])
	if !now.Before(e.expires) {
		m.remove(el)
		var zero V
		return zero, false
	}
	m.order.MoveToFront(el)
	return e.value, true
}

// put sets k to v until expires, making room first.
func (m *expiringMap[K, V]) put(k K, v V, expires time.Time, now time.Time) {
	if el, ok := m.items[k]; ok {
		e := el.Value.(*expiringEntry[K, V])
		e.value, e.expires = v, expires
		m.order.MoveToFront(el)
		return
	}
	m.prune(now)
	m.items[k] = m.order.PushFront(&expiringEntry[K, V]{key: k, value: v, expires: expires})
}

// touch pushes the expiry of a present k to expires.
func (m *expiringMap[K, V]) touch(k K, expires time.Time) {
	if el, ok := m.items[k]; ok {
		el.Value.(*expiringEntry[K, V]).expires = expires
	}
}

// prune drops a few expired entries from the cold end, and the coldest entries while the map is full, so
// that the work per call stays small and the size never passes max.
func (m *expiringMap[K, V]) prune(now time.Time) {
	for range 8 {
		el := m.order.Back()
		if el == nil || now.Before(el.Value.(*expiringEntry[K, V]).expires) {
			break
		}
		m.remove(el)
	}
	for m.order.Len() >= m.max {
		m.remove(m.order.Back())
	}
}

func (m *expiringMap[K, V]) remove(el *list.Element) {
	delete(m.items, el.Value.(*expiringEntry[K, V]).key)
	m.order.Remove(el)
}

func (m *expiringMap[K, V]) len() int { return m.order.Len() }
