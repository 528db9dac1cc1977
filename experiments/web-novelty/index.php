<?php
// The page every request gets (experiments/web-novelty): one query per request against the private MariaDB
// (unix socket set by the Apache config: mysqli.default_socket), rendered as a small HTML page.
$id = isset($_GET['id']) ? (int) $_GET['id'] : 1;
$db = new mysqli('localhost', 'web', 'web', 'shop');
$res = $db->query('SELECT i.name, i.price, i.stock, c.name AS category FROM items i JOIN categories c ON c.id = i.category WHERE i.id = ' . $id);
$row = $res ? $res->fetch_assoc() : null;
$db->close();
header('Content-Type: text/html; charset=utf-8');
if (!$row) {
    http_response_code(404);
    echo "<!doctype html><title>not found</title><p>no item $id</p>\n";
    return;
}
printf(
    "<!doctype html><title>%s</title><h1>%s</h1><p>%s · %.2f EUR · %d in stock</p><p>served at %s</p>\n",
    htmlspecialchars($row['name']), htmlspecialchars($row['name']), htmlspecialchars($row['category']),
    $row['price'], $row['stock'], date('c')
);
