package searchsvc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// cursorKeyName is the key, in the search services' bucket, of the secret that signs search cursors.
const cursorKeyName = "cursor-key"

// sharedCursorKey is the secret that signs search cursors: the configured one, or else one that every
// search service on the same NATS shares, created at random by the first and kept in a key-value bucket
// of JetStream beside the stream. A gateway sends each search to any replica, so a cursor one replica
// handed out must be good at the others, and after a restart. Whoever may read the bucket may read the key.
func sharedCursorKey(ctx context.Context, js jetstream.JetStream, stream, configured string, replicas int) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	// The bucket as it is (an operator may have given it more replicas), else created.
	bucket := stream + "_search"
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, Description: "secrets the search services share", History: 1, Replicas: max(1, replicas)})
		if errors.Is(err, jetstream.ErrBucketExists) { // another replica created it first
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("search services' key-value bucket: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := kv.Create(ctx, cursorKeyName, key); err == nil {
		return key, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("store the cursor key: %w", err)
	}
	e, err := kv.Get(ctx, cursorKeyName) // another replica made it first
	if err != nil {
		return nil, fmt.Errorf("read the cursor key: %w", err)
	}
	if len(e.Value()) < len(key) {
		return nil, fmt.Errorf("the cursor key in bucket %s is %d bytes, want at least %d", bucket, len(e.Value()), len(key))
	}
	return e.Value(), nil
}
