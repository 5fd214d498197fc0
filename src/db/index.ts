export { Database, checkCollectionName, collectionNamePattern } from "./database.js";
