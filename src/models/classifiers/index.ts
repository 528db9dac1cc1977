/**
 * @module models/classifiers
 * Window classifiers (SVM, k-NN, naive Bayes, histogram tree/forest, logistic regression) and the one-class
 * isolation forest.
 */
export * from './classifier.js';
export * from './svm.js';
export * from './knn.js';
export * from './naive-bayes.js';
export * from './binning.js';
export * from './tree.js';
export * from './logistic.js';
export * from './isolation-forest.js';
export * from './knn-detector.js';
