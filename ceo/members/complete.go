package members

import "context"

// CompleteUsers returns up to limit user names starting with prefix,
// sorted: Tab completion in the front end's Username fields. An empty
// prefix matches nothing (it would list the whole directory). The
// search is paged and bounded (directory.Client.CompleteUsers).
func (d *Directory) CompleteUsers(ctx context.Context, prefix string, limit int) ([]string, error) {
	if prefix == "" || limit < 1 {
		return nil, nil
	}
	names, err := d.dir.CompleteUsers(ctx, prefix, limit)
	if err != nil {
		return nil, plain(err)
	}
	return names, nil
}
