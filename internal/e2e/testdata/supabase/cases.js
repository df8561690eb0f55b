// Each case is one query-builder call of @supabase/supabase-js ("sb": anon
// with the publishable key; "svc": the service key) or of
// @supabase/postgrest-js ("pg": PostgrestClient with the publishable key),
// beside the SQL that computes, through db9's /sql, the data it must
// return. `when` says whether that SQL runs before every case ran (reads;
// rows a case deletes) or after (rows a case wrote). `countSql` gives the
// expected count. Reads come first: the writes change the data.
'use strict';

const alice = '00000000-0000-0000-0000-000000000001';
const agg = (sel, from, order) => `select coalesce(json_agg(x ${order ? 'order by ' + order : ''}), '[]') from (select ${sel} from ${from}) x`;

module.exports = [
  // select: columns, renames, casts, JSON paths, *
  { name: 'select *', client: 'sb', run: (c) => c.from('users').select('*').order('username'),
    sql: `select json_agg(u order by username) from users u` },
  { name: 'select rename and cast', client: 'pg', run: (c) => c.from('posts').select('id, headline:title, rating::text').order('id'),
    sql: agg('id, title as headline, rating::text as rating', 'posts', 'id') },
  { name: 'select json paths', client: 'sb', run: (c) => c.from('posts').select('id, lang:meta->>lang, words:meta->words').order('id'),
    sql: agg(`id, meta->>'lang' as lang, meta->'words' as words`, 'posts', 'id') },
  { name: 'select enum, range, array, tsvector', client: 'sb', run: (c) => c.from('posts').select('status, available, labels, search').order('id'),
    sql: `select json_agg(json_build_object('status', status, 'available', available, 'labels', labels, 'search', search) order by id) from posts` },

  // embedding
  { name: 'embed many-to-one with alias', client: 'sb', run: (c) => c.from('posts').select('id, title, author:users(username, full_name)').order('id'),
    sql: `select json_agg(json_build_object('id', p.id, 'title', p.title, 'author',
            (select json_build_object('username', u.username, 'full_name', u.full_name) from users u where u.id = p.author_id)) order by p.id) from posts p` },
  { name: 'embed one-to-many ordered and limited', client: 'sb',
    run: (c) => c.from('posts').select('id, comments(id, body, likes)').order('id')
      .order('likes', { referencedTable: 'comments', ascending: false }).limit(2, { referencedTable: 'comments' }),
    sql: `select json_agg(json_build_object('id', p.id, 'comments',
            (select coalesce(json_agg(x order by x.likes desc), '[]') from
              (select c.id, c.body, c.likes from comments c where c.post_id = p.id order by c.likes desc limit 2) x)) order by p.id) from posts p` },
  { name: 'embed many-to-many through the junction', client: 'pg',
    run: (c) => c.from('posts').select('id, tags(name)').order('id').order('name', { referencedTable: 'tags' }),
    sql: `select json_agg(json_build_object('id', p.id, 'tags',
            (select coalesce(json_agg(json_build_object('name', t.name) order by t.name), '[]')
             from post_tags pt join tags t on t.id = pt.tag_id where pt.post_id = p.id)) order by p.id) from posts p` },
  { name: 'embed nested two levels', client: 'sb',
    run: (c) => c.from('users').select('username, posts(title, comments(body))').eq('username', 'alice')
      .order('id', { referencedTable: 'posts' }).order('id', { referencedTable: 'posts.comments' }),
    sql: `select json_agg(json_build_object('username', u.username, 'posts',
            (select coalesce(json_agg(json_build_object('title', p.title, 'comments',
                (select coalesce(json_agg(json_build_object('body', c.body) order by c.id), '[]') from comments c where c.post_id = p.id))
              order by p.id), '[]') from posts p where p.author_id = u.id))) from users u where u.username = 'alice'` },
  { name: 'embed !inner with a filter on the embedded table', client: 'sb',
    run: (c) => c.from('posts').select('id, title, tags!inner(name)').eq('tags.name', 'postgres').order('id'),
    sql: `select json_agg(json_build_object('id', p.id, 'title', p.title, 'tags', json_build_array(json_build_object('name', 'postgres'))) order by p.id)
          from posts p where exists (select from post_tags pt join tags t on t.id = pt.tag_id where pt.post_id = p.id and t.name = 'postgres')` },
  { name: 'filter on an embedded resource', client: 'sb',
    run: (c) => c.from('posts').select('id, comments(body)').eq('comments.likes', 0).order('id').order('id', { referencedTable: 'comments' }),
    sql: `select json_agg(json_build_object('id', p.id, 'comments',
            (select coalesce(json_agg(json_build_object('body', c.body) order by c.id), '[]') from comments c where c.post_id = p.id and c.likes = 0)) order by p.id) from posts p` },
  { name: 'embedded count', client: 'sb', run: (c) => c.from('users').select('username, posts(count)').order('username'),
    sql: `select json_agg(json_build_object('username', u.username, 'posts',
            json_build_array(json_build_object('count', (select count(*) from posts p where p.author_id = u.id)))) order by u.username) from users u` },

  // horizontal filters
  { name: 'eq neq lte', client: 'sb', run: (c) => c.from('posts').select('id').neq('status', 'draft').lte('id', 5).eq('meta->>lang', 'en').order('id'),
    sql: agg('id', `posts where status <> 'draft' and id <= 5 and meta->>'lang' = 'en'`, 'id') },
  { name: 'gt gte lt', client: 'pg', run: (c) => c.from('posts').select('id, rating').gte('rating', 3.8).lt('rating', 4.9).gt('id', 0).order('id'),
    sql: agg('id, rating', 'posts where rating >= 3.8 and rating < 4.9 and id > 0', 'id') },
  { name: 'like ilike', client: 'sb', run: (c) => c.from('posts').select('id').like('title', '%o%').ilike('body', '%POSTGRES%').order('id'),
    sql: agg('id', `posts where title like '%o%' and body ilike '%POSTGRES%'`, 'id') },
  { name: 'in', client: 'sb', run: (c) => c.from('posts').select('id, status').in('status', ['draft', 'archived']).order('id'),
    sql: agg('id, status', `posts where status in ('draft', 'archived')`, 'id') },
  { name: 'is null, not is null', client: 'sb', run: (c) => c.from('posts').select('id').is('rating', null).not('available', 'is', null).order('id'),
    sql: agg('id', 'posts where rating is null and available is not null', 'id') },
  { name: 'contains array', client: 'sb', run: (c) => c.from('posts').select('id').contains('labels', ['db']).order('id'),
    sql: agg('id', `posts where labels @> '{db}'`, 'id') },
  { name: 'containedBy array', client: 'sb', run: (c) => c.from('posts').select('id').containedBy('labels', ['db', 'intro', 'security', 'go']).order('id'),
    sql: agg('id', `posts where labels <@ '{db,intro,security,go}'`, 'id') },
  { name: 'overlaps array', client: 'pg', run: (c) => c.from('posts').select('id').overlaps('labels', ['go', 'js']).order('id'),
    sql: agg('id', `posts where labels && '{go,js}'`, 'id') },
  { name: 'contains jsonb', client: 'sb', run: (c) => c.from('users').select('username').contains('profile', { langs: ['fr'] }).order('username'),
    sql: agg('username', `users where profile @> '{"langs": ["fr"]}'`, 'username') },
  { name: 'overlaps range', client: 'sb', run: (c) => c.from('posts').select('id').overlaps('available', '[8,12)').order('id'),
    sql: agg('id', `posts where available && '[8,12)'::int4range`, 'id') },
  { name: 'range adjacent, right of', client: 'sb', run: (c) => c.from('posts').select('id').rangeAdjacent('available', '[40,50)').order('id'),
    sql: agg('id', `posts where available -|- '[40,50)'::int4range`, 'id') },
  { name: 'rangeGt', client: 'sb', run: (c) => c.from('posts').select('id').rangeGt('available', '[0,10)').order('id'),
    sql: agg('id', `posts where available >> '[0,10)'::int4range`, 'id') },
  { name: 'textSearch websearch', client: 'sb', run: (c) => c.from('posts').select('id').textSearch('search', 'postgres', { type: 'websearch', config: 'english' }).order('id'),
    sql: agg('id', `posts where search @@ websearch_to_tsquery('english', 'postgres')`, 'id') },
  { name: 'textSearch to_tsquery', client: 'sb', run: (c) => c.from('posts').select('id').textSearch('search', `'tenants' & 'policies'`, { config: 'english' }).order('id'),
    sql: agg('id', `posts where search @@ to_tsquery('english', '''tenants'' & ''policies''')`, 'id') },
  { name: 'textSearch plain', client: 'pg', run: (c) => c.from('posts').select('id').textSearch('search', 'great database', { type: 'plain', config: 'english' }).order('id'),
    sql: agg('id', `posts where search @@ plainto_tsquery('english', 'great database')`, 'id') },
  { name: 'or', client: 'sb', run: (c) => c.from('posts').select('id').or('status.eq.archived,rating.gt.4.6').order('id'),
    sql: agg('id', `posts where status = 'archived' or rating > 4.6`, 'id') },
  { name: 'or with nested and', client: 'sb', run: (c) => c.from('posts').select('id').or('and(status.eq.published,rating.lt.4),id.eq.6').order('id'),
    sql: agg('id', `posts where (status = 'published' and rating < 4) or id = 6`, 'id') },
  { name: 'not in', client: 'sb', run: (c) => c.from('posts').select('id').not('status', 'in', '(draft,archived)').order('id'),
    sql: agg('id', `posts where status not in ('draft', 'archived')`, 'id') },
  { name: 'match', client: 'sb', run: (c) => c.from('posts').select('id').match({ status: 'published', author_id: alice }).order('id'),
    sql: agg('id', `posts where status = 'published' and author_id = '${alice}'`, 'id') },
  { name: 'filter imatch', client: 'sb', run: (c) => c.from('posts').select('title').filter('title', 'imatch', '^.o').order('id'),
    sql: agg('title', `posts where title ~* '^.o' order by id`, null) },

  // ordering, pagination, shapes
  { name: 'order desc nullsfirst then asc', client: 'sb', run: (c) => c.from('posts').select('id, rating').order('rating', { ascending: false, nullsFirst: true }).order('id'),
    sql: agg('id, rating', 'posts order by rating desc nulls first, id', null) },
  { name: 'limit', client: 'sb', run: (c) => c.from('comments').select('id').order('id').limit(2),
    sql: agg('id', 'comments order by id limit 2', null) },
  { name: 'range', client: 'pg', run: (c) => c.from('comments').select('id').order('id').range(2, 4),
    sql: agg('id', 'comments order by id offset 2 limit 3', null) },
  { name: 'single', client: 'sb', run: (c) => c.from('users').select('username, profile').eq('username', 'bob').single(),
    sql: `select json_build_object('username', username, 'profile', profile) from users where username = 'bob'` },
  { name: 'maybeSingle found', client: 'sb', run: (c) => c.from('users').select('username').eq('username', 'carol').maybeSingle(),
    sql: `select json_build_object('username', 'carol')` },
  { name: 'maybeSingle none', client: 'sb', run: (c) => c.from('users').select('username').eq('username', 'zed').maybeSingle(),
    sql: `select null::json` },
  { name: 'csv', client: 'sb', run: (c) => c.from('tags').select('id,name').order('id').csv(),
    sql: `select to_json('id,name' || E'\\n' || string_agg(id || ',' || name, E'\\n' order by id)) from tags` },
  { name: 'count exact with limit', client: 'sb', run: (c) => c.from('comments').select('id', { count: 'exact' }).order('id').limit(3),
    sql: agg('id', 'comments order by id limit 3', null), countSql: `select count(*) from comments` },
  { name: 'count exact, head', client: 'pg', run: (c) => c.from('posts').select('*', { count: 'exact', head: true }).eq('status', 'published'),
    sql: `select null::json`, countSql: `select count(*) from posts where status = 'published'` },
  { name: 'view', client: 'sb', run: (c) => c.from('post_stats').select('*').order('id'),
    sql: `select json_agg(s order by id) from post_stats s` },

  // RPC
  { name: 'rpc scalar', client: 'sb', run: (c) => c.rpc('add_numbers', { a: 2, b: 40 }),
    sql: `select to_json(add_numbers(2, 40))` },
  { name: 'rpc scalar by GET', client: 'pg', run: (c) => c.rpc('add_numbers', { a: 1, b: 2 }, { get: true }),
    sql: `select to_json(3)` },
  { name: 'rpc setof with select and filter', client: 'sb', run: (c) => c.rpc('search_posts', { q: 'postgres' }).select('id, title').eq('status', 'published').order('id'),
    sql: agg('id, title', `search_posts('postgres') where status = 'published'`, 'id') },

  // writes (service key), checked against the table afterwards
  { name: 'insert one, select()', client: 'svc', run: (c) => c.from('tags').insert({ name: 'w1' }).select(),
    when: 'after', sql: agg('*', `tags where name = 'w1'`, null) },
  { name: 'insert bulk, select(name)', client: 'svc', run: (c) => c.from('tags').insert([{ name: 'w2' }, { name: 'w3' }]).select('name'),
    when: 'after', sql: agg('name', `tags where name in ('w2', 'w3') order by id`, null) },
  { name: 'upsert merge on the primary key', client: 'svc',
    run: (c) => c.from('tags').upsert([{ id: 1, name: 'postgresql' }, { id: 100, name: 'w100' }]).select('id, name'),
    when: 'after', sql: agg('id, name', 'tags where id in (1, 100) order by id', null) },
  { name: 'upsert ignore duplicates on a unique column', client: 'svc',
    run: (c) => c.from('tags').upsert([{ name: 'go' }, { name: 'w4' }], { onConflict: 'name', ignoreDuplicates: true }).select('name'),
    when: 'after', sql: agg('name', `tags where name = 'w4'`, null) },
  { name: 'update, select()', client: 'svc',
    run: (c) => c.from('posts').update({ status: 'archived', meta: { lang: 'en', edited: true } }).eq('id', 3).select('id, status, meta'),
    when: 'after', sql: agg('id, status, meta', 'posts where id = 3', null) },
  { name: 'update with count', client: 'svc', run: (c) => c.from('comments').update({ likes: 10 }, { count: 'exact' }).eq('post_id', 2),
    when: 'after', sql: `select null::json`, countSql: `select count(*) from comments where post_id = 2 and likes = 10` },
  { name: 'delete, select()', client: 'svc', run: (c) => c.from('comments').delete().eq('post_id', 5).select('id, body'), sortBy: 'id',
    sql: agg('id, body', 'comments where post_id = 5 order by id', null) },
  { name: 'rpc volatile (POST)', client: 'svc', run: (c) => c.rpc('like_comment', { comment_id: 1 }),
    when: 'after', sql: `select to_json(likes) from comments where id = 1` },
];
