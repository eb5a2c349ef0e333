// Package demodata is the shop's demonstration catalogue: the products catalog seeds
// on first start and the stock inventory seeds for them. It is data both services start
// from, not a channel between them; after seeding each owns its copy.
package demodata

import (
	"fmt"
	"hash/fnv"
)

// Product is one catalogue entry as seeded.
type Product struct {
	ID          string
	Name        string
	Description string
	Category    string
	PriceCents  int64
	ImageURL    string
}

type category struct {
	name       string
	nouns      []string
	minCents   int64
	spanCents  int64
	descriptor string
}

var adjectives = []string{"Classic", "Urban", "Trail", "Studio", "Nordic", "Vintage", "Compact", "Pro", "Everyday", "Coastal", "Summit", "Heritage", "Lumen", "Drift", "Atlas"}

var categories = []category{
	{"books", []string{"Field Guide", "Cookbook", "Novel", "Atlas", "Sketchbook"}, 899, 3500, "A well-bound edition, printed on recycled paper."},
	{"electronics", []string{"Headphones", "Speaker", "Charger", "Keyboard", "Webcam"}, 1999, 24000, "Tested for a long life, with a two-year warranty."},
	{"kitchen", []string{"Chef Knife", "Pour-Over Kettle", "Cast Iron Pan", "Mixing Bowls", "Coffee Grinder"}, 1299, 12000, "Built for daily cooking and easy cleaning."},
	{"outdoor", []string{"Tent", "Headlamp", "Daypack", "Water Filter", "Camp Stove"}, 1499, 30000, "Light enough to carry, tough enough to last."},
	{"clothing", []string{"Rain Jacket", "Wool Sweater", "Running Tee", "Chinos", "Beanie"}, 1499, 18000, "Made from durable, responsibly sourced fabric."},
	{"home", []string{"Desk Lamp", "Linen Throw", "Plant Pot", "Wall Clock", "Storage Basket"}, 999, 9000, "Simple design that fits any room."},
	{"toys", []string{"Building Set", "Puzzle", "Wooden Train", "Kite", "Board Game"}, 799, 7000, "Safety-tested and made to be played with."},
	{"sports", []string{"Yoga Mat", "Jump Rope", "Kettlebell", "Tennis Racket", "Cycling Gloves"}, 999, 15000, "Designed with coaches, ready for training."},
}

// ProductsPerCategory × len(categories) products are seeded: 120.
const ProductsPerCategory = 15

// Products returns the seeded catalogue, the same on every call and every machine.
func Products() []Product {
	products := make([]Product, 0, len(categories)*ProductsPerCategory)
	n := 0
	for _, c := range categories {
		for i := 0; i < ProductsPerCategory; i++ {
			n++
			adj := adjectives[(i+len(c.name))%len(adjectives)]
			noun := c.nouns[i%len(c.nouns)]
			id := fmt.Sprintf("SKU-%05d", n)
			products = append(products, Product{
				ID:          id,
				Name:        fmt.Sprintf("%s %s", adj, noun),
				Description: fmt.Sprintf("The %s %s. %s", adj, noun, c.descriptor),
				Category:    c.name,
				PriceCents:  c.minCents + int64(spread(id)%uint32(c.spanCents/100))*100,
				ImageURL:    fmt.Sprintf("https://images.shop.example/products/%s.jpg", id),
			})
		}
	}
	return products
}

// InitialStock is how many units of a product inventory starts with: between 20 and 500,
// so that some products sell out under load and most do not.
func InitialStock(productID string) int32 {
	return 20 + int32(spread(productID+"stock")%481)
}

func spread(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
