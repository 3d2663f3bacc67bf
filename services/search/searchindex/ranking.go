package searchindex

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Ranking is how relevance is scored. A movie's text score is the BM25 score of the query words in its
// fields, each field weighted by its boost, plus the boosts for the whole title and for a phrase; it is
// then multiplied by a popularity prior (log of the vote count) and a rating prior, so a well-known,
// well-liked film outranks an obscure one of similar text relevance, but a much better text match still
// wins. The defaults were tuned on principles (not per query) against the dev judgments; see searcheval.
type Ranking struct {
	Title, Directors, Cast, Genres, Keywords, Tags, Tagline, Overview float64 // field boosts

	TitleExact   float64 // the query is the whole title (or the title without its leading article)
	TitlePhrase  float64 // the query words appear in the title as a phrase
	PersonPhrase float64 // the query words appear as a phrase in a director's or cast member's name
	ValueExact   float64 // the query is a whole genre, or a director's or cast member's whole name

	Prefix float64 // weight of a prefix match of the last word, relative to an exact match (1)
	Typo   float64 // weight of a typo match, relative to an exact match (1)

	VotesWeight    float64 // how much the vote-count prior can multiply a score by (1 + VotesWeight)
	VotesSaturate  float64 // the vote count at which the prior is full; it grows with log(votes)
	RatingWeight   float64 // how much the rating prior can move a score by (± RatingWeight)
	RatingMinVotes float64 // the vote count at which a rating is fully trusted

	// WeightedRatingMinVotes is m of the weighted rating that sort=rating orders by: a rating counts as much
	// as the catalog's mean rating once it has m votes (see weightedRating).
	WeightedRatingMinVotes float64

	TypoBelow       int // with fewer movies matching every word exactly, movies matching with typos follow them
	RelaxBelow      int // with fewer movies matching every word, movies matching some words follow them
	DidYouMeanBelow int // with fewer movies matching every word exactly, look for a corrected query

	// A query names a topic when its words, in order, are in the genres, keywords or tags of at least
	// TopicMin movies (0: never), more than in people's names, and not too common: "heist", "robots",
	// "science fiction", not "emma" (Emma Watson's) or "a" (of "based on a book"); see Index.topic.
	// Those movies come first, and among them the prior (popularity and rating) weighs TopicPopularity
	// times as much: it is raised to that power. Someone who types a topic means its well-known films, not
	// an obscure one that has the word in its title.
	TopicMin        int
	TopicPopularity float64
}

// DefaultRanking is the ranking the service runs with unless configured otherwise.
func DefaultRanking() Ranking {
	return Ranking{
		Title: 3, Directors: 3, Cast: 3, Genres: 1.5, Keywords: 2.5, Tags: 2.5, Tagline: 0.5, Overview: 1,
		TitleExact: 15, TitlePhrase: 4, PersonPhrase: 4, ValueExact: 5,
		Prefix: 0.6, Typo: 0.4,
		VotesWeight: 3, VotesSaturate: 20000, RatingWeight: 0.3, RatingMinVotes: 200, WeightedRatingMinVotes: 500,
		TypoBelow: 20, RelaxBelow: 10, DidYouMeanBelow: 3,
		TopicMin: 10, TopicPopularity: 8,
	}
}

// Validate reports every problem of r.
func (r Ranking) Validate() error {
	var problems []string
	for name, v := range map[string]float64{
		"title": r.Title, "directors": r.Directors, "cast": r.Cast, "genres": r.Genres, "keywords": r.Keywords,
		"tags": r.Tags, "tagline": r.Tagline, "overview": r.Overview, "title_exact": r.TitleExact,
		"title_phrase": r.TitlePhrase, "person_phrase": r.PersonPhrase, "value_exact": r.ValueExact, "prefix": r.Prefix, "typo": r.Typo,
		"votes_weight": r.VotesWeight, "rating_weight": r.RatingWeight, "rating_min_votes": r.RatingMinVotes,
		"weighted_rating_min_votes": r.WeightedRatingMinVotes, "topic_popularity": r.TopicPopularity,
	} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			problems = append(problems, fmt.Sprintf("%s must be a finite number ≥ 0", name))
		}
	}
	if !(r.VotesSaturate >= 1) || math.IsInf(r.VotesSaturate, 0) {
		problems = append(problems, "votes_saturate must be at least 1")
	}
	if r.RatingWeight >= 1 {
		problems = append(problems, "rating_weight must be below 1")
	}
	if r.Title == 0 {
		problems = append(problems, "title must be above 0")
	}
	if r.TypoBelow < 0 || r.RelaxBelow < 0 || r.DidYouMeanBelow < 0 || r.TopicMin < 0 {
		problems = append(problems, "typo_below, relax_below, did_you_mean_below and topic_min must be ≥ 0")
	}
	if r.TopicPopularity > maxTopicPopularity {
		problems = append(problems, fmt.Sprintf("topic_popularity must be at most %d", maxTopicPopularity))
	}
	if len(problems) > 0 {
		return errors.New("invalid ranking: " + strings.Join(problems, "; "))
	}
	return nil
}

// prior is the factor a movie's text score is multiplied by, from its vote count and rating (either may be
// missing: a movie without votes gets no popularity and a neutral rating).
func (r Ranking) prior(votes, rating float64, hasVotes, hasRating bool) float64 {
	f := 1.0
	if hasVotes && votes > 0 {
		f += r.VotesWeight * min(1, math.Log1p(votes)/math.Log1p(r.VotesSaturate))
	}
	if hasRating && hasVotes && votes > 0 {
		trust := min(1, math.Log1p(votes)/math.Log1p(r.RatingMinVotes))
		f *= 1 + r.RatingWeight*trust*max(-1, min(1, (rating-6)/3))
	}
	return f
}

// maxTopicPopularity bounds the power a topic's prior is raised to: already at 8, popularity all but
// decides the order of a topic's movies.
const maxTopicPopularity = 32

// priorIn is the prior of a tier's movie: prior, or, in a topic's tier, prior to the power TopicPopularity.
func (r Ranking) priorIn(topic bool, prior float64) float64 {
	if !topic {
		return prior
	}
	return math.Pow(prior, r.TopicPopularity)
}

// weightedRating is the Bayesian average that IMDb's top lists rank by: a movie's rating R over v votes
// pulled towards the catalog's mean rating C by m votes' worth of it, (v·R + m·C) / (v + m). A 10 of one
// vote is about the mean; a 8.7 of 20,000 votes stays about 8.7. A rating without votes counts as none.
func weightedRating(rating, votes, mean, m float64) float64 {
	if math.IsNaN(votes) || votes < 0 {
		votes = 0
	}
	if votes+m == 0 {
		return rating
	}
	return (votes*rating + m*mean) / (votes + m)
}
