package app

import (
	"context"
	"errors"
	"slices"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/otelshop/shop/internal/pg"
	"github.com/otelshop/shop/internal/service"
)

// RemoveStores drops what a shop run on these stores created: every registered
// service's database, the Redis keys under the key prefix, the shipping queue with
// its retry and dead-letter queues, and the exchanges. Tests and the overhead
// harness run shops under names of their own and clean up with it.
func RemoveStores(ctx context.Context, st service.Stores, shippingQueue string) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	// In parallel: each drop takes about a second on a small machine.
	for _, d := range Registry {
		if !slices.Contains(d.Stores, service.Postgres) {
			continue
		}
		wg.Go(func() {
			if err := pg.DropDatabase(ctx, st.PostgresURL, st.Database(d.Name)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if opts, err := redis.ParseURL(st.RedisURL); err == nil {
		rdb := redis.NewClient(opts)
		iter := rdb.Scan(ctx, 0, st.KeyPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	}
	conn, err := amqp.Dial(st.RabbitURL)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, name := range []string{shippingQueue, shippingQueue + ".retry", shippingQueue + ".dlq"} {
		_, _ = ch.QueueDelete(name, false, false, false)
	}
	_ = ch.ExchangeDelete(shippingQueue+".retry", false, false)
	_ = ch.ExchangeDelete(st.Exchange, false, false)
	return errors.Join(errs...)
}
